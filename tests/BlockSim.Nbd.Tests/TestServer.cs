using System.Net;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

/// <summary>A real server on a loopback port with a few exports, for one test.</summary>
public sealed class TestServer : IAsyncDisposable
{
    public const long MemorySize = 64L * 1024 * 1024;

    public TestServer(NbdServerOptions? options = null, params INbdExport[] extra)
    {
        Memory = new MemoryExport("mem", MemorySize, "test memory export");
        ReadOnly = new MemoryExport("ro", 1024 * 1024, readOnly: true);
        Server = new NbdServer(new ExportRegistry([Memory, ReadOnly, .. extra]), options);
        Port = Server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;
    }

    public NbdServer Server { get; }

    public MemoryExport Memory { get; }

    public MemoryExport ReadOnly { get; }

    public int Port { get; }

    public Task<NbdClient> ConnectAsync(string export = "mem", bool structured = true, bool allocation = true) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", Port, new NbdClientOptions { ExportName = export, StructuredReplies = structured, AllocationContext = allocation });

    public Task<RawNbd> RawAsync(int receiveBuffer = 0, IPAddress? from = null) => RawNbd.ConnectAsync(Port, receiveBuffer, from);

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
