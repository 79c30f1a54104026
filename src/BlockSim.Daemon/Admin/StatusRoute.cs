using System.Diagnostics;
using System.Reflection;
using BlockSim.Crypto;
using BlockSim.KeyStore;
using BlockSim.Nbd.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// GET /v1/status, what <c>blocksim status</c> prints: the daemon (version, process, uptime, XTS tier), where
/// it listens and how (TLS), whether it holds the key store open, each export with its clients, and every
/// open connection. Nothing secret: no key, path of a key file or policy.
/// </summary>
internal static class StatusRoute
{
    private static readonly DateTimeOffset s_started = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    public static void Map(WebApplication app, NbdServer server, Func<SealedKeyStore?> store) =>
        app.MapGet("/v1/status", (HttpContext http) => AdminEndpoint.Answer(http, StatusCodes.Status200OK, Status(server, store())));

    private static DaemonStatus Status(NbdServer server, SealedKeyStore? store)
    {
        var connections = server.Connections();
        var exports = server.Exports.All
            .Select(e => new ExportStatus(e.Name, e.Name == server.Exports.DefaultName, e.Size, e.IsReadOnly, e.Description, connections.Count(c => c.Export == e.Name)))
            .ToList();
        var listeners = server.Endpoints.Select(e => new ListenerStatus(e.ToString() ?? "", server.TlsModeOf(e).ToString().ToLowerInvariant())).ToList();
        string tier;
        try
        {
            tier = XtsTiers.Default.ToString();
        }
        catch (Exception e) when (e is InvalidOperationException or PlatformNotSupportedException)
        {
            tier = "none";
        }

        return new DaemonStatus(
            typeof(StatusRoute).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            Environment.ProcessId,
            s_started,
            Math.Round((DateTimeOffset.UtcNow - s_started).TotalSeconds, 1),
            tier,
            listeners,
            store is null ? "none" : $"open: {store.Location}",
            exports,
            connections);
    }
}

/// <summary>What GET /v1/status answers.</summary>
internal sealed record DaemonStatus(string Version, int Pid, DateTimeOffset Started, double UptimeSeconds, string XtsTier, IReadOnlyList<ListenerStatus> Listeners, string KeyStore, IReadOnlyList<ExportStatus> Exports, IReadOnlyList<NbdConnectionStatus> Connections);

/// <summary>A listener: ADDR:PORT or the socket's path, and its TLS mode (off, on, require).</summary>
internal sealed record ListenerStatus(string Address, string Tls);

/// <summary>An export and how many clients are attached to it now.</summary>
internal sealed record ExportStatus(string Name, bool IsDefault, long Size, bool ReadOnly, string? Description, int Clients);
