using System.Net;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.Interop.Tests;

/// <summary>A server on a free loopback port with one fresh export per test, and a scratch folder.</summary>
public sealed class InteropServer : IAsyncDisposable
{
    public InteropServer(string exportName, long size = 64L * 1024 * 1024)
    {
        Export = new MemoryExport(exportName, size, $"interop export {exportName}");
        Server = new NbdServer(new ExportRegistry([Export, new MemoryExport("other", 1 << 20)]));
        Port = Server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;
        Directory = System.IO.Directory.CreateTempSubdirectory("blocksim-interop-").FullName;
    }

    public MemoryExport Export { get; }

    public NbdServer Server { get; }

    public int Port { get; }

    public string Directory { get; }

    public string Uri => $"nbd://127.0.0.1:{Port}/{Export.Name}";

    public string File(string name) => Path.Combine(Directory, name);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
