using System.Runtime.InteropServices;
using BlockSim.Nbd.Server;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Service;

/// <summary>
/// The running daemon under Microsoft.Extensions.Hosting. Listeners are bound before the host starts (so a
/// port in use is a clear start-up error, not a half-started service); this service then tells systemd it is
/// ready (READY=1 on $NOTIFY_SOCKET, for Type=notify units) and, on SIGTERM or SIGINT, stops gracefully:
/// STOPPING=1, no new connections, requests in flight answered (later ones get ESHUTDOWN), exports flushed,
/// volume keys and the store's root key zeroed.
/// </summary>
/// <param name="endpoints">The side endpoints (metrics, the admin socket), closed once the NBD listeners are, before the exports and the key store.</param>
internal sealed class NbdService(NbdServer server, ExportCatalog catalog, IReadOnlyList<IAsyncDisposable> endpoints, ISystemdNotifier systemd, ILogger logger) : IHostedService
{
    private PosixSignalRegistration? _powerCut;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // SIGUSR1 (10 on Linux) is the simulated power cut: unflushed writes in volatile caches are lost.
        _powerCut = PosixSignalRegistration.Create((PosixSignal)10, context =>
        {
            context.Cancel = true;
            if (catalog.PowerCut() is { } lost)
            {
                DaemonLog.PowerCut(logger, lost);
            }
            else
            {
                DaemonLog.PowerCutIgnored(logger);
            }
        });

        var exports = string.Join(", ", server.Exports.All.Select(e => e.Name));
        DaemonLog.Ready(logger, exports);
        systemd.Notify(new ServiceState($"READY=1\nSTATUS=serving {exports}"));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        systemd.Notify(ServiceState.Stopping);
        DaemonLog.Stopping(logger);
        _powerCut?.Dispose();
        await server.StopAsync().ConfigureAwait(false);
        foreach (var endpoint in endpoints)
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }

        await catalog.FlushAsync().ConfigureAwait(false);
        catalog.Dispose();
        DaemonLog.Stopped(logger);
    }
}
