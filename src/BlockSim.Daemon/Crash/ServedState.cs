using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;
using BlockSim.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Daemon.Crash;

/// <summary>
/// One crash state served read-only over NBD as export <c>crash-N</c> on a Unix socket of its own, so the
/// checker reads it with any client (nbdinfo, nbdcopy, qemu-img, nbd-client, fio). Disposing stops the
/// server and removes the socket.
/// </summary>
internal sealed class ServedState : IAsyncDisposable
{
    private readonly NbdServer _server;

    private ServedState(NbdServer server, string socket, string export, int number, string recipe)
    {
        _server = server;
        Socket = socket;
        Export = export;
        Number = number;
        Recipe = recipe;
    }

    public string Socket { get; }

    public string Export { get; }

    public int Number { get; }

    public string Recipe { get; }

    /// <summary>The state's address in the NBD URI form libnbd, qemu and nbdkit take.</summary>
    public string Uri => $"nbd+unix:///{Export}?socket={Socket}";

    public static ServedState Start(IBlockDevice device, string socket, int number, string recipe)
    {
        var export = $"crash-{number}";
        var server = new NbdServer(new ExportRegistry([new BlockDeviceExport(export, device, $"crash state {number}: {recipe}")], export), new NbdServerOptions(), NullLogger.Instance);
        try
        {
            server.ListenUnix(socket);
        }
        catch
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        return new ServedState(server, socket, export, number, recipe);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
