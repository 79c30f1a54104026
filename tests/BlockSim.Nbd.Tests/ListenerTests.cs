using System.Net;
using System.Net.Sockets;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

/// <summary>Listeners are exclusive: a second server on a used address fails to start instead of sharing it.</summary>
public class ListenerTests
{
    [Fact]
    public async Task A_second_server_on_a_tcp_address_in_use_fails_naming_the_address()
    {
        await using var first = new NbdServer(new ExportRegistry([new MemoryExport("mem", 1 << 20)]));
        var endpoint = first.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0));

        // Regression: the listener set ReuseAddress, which .NET on Linux turns into SO_REUSEPORT, so the
        // kernel let the second bind succeed and shared the clients between the two.
        await using var second = new NbdServer(new ExportRegistry([new MemoryExport("other", 1 << 20)]));
        var refused = Assert.Throws<IOException>(() => second.ListenTcp(endpoint));
        Assert.Contains(endpoint.ToString(), refused.Message);
        Assert.Empty(second.Endpoints);

        // Every client still reaches the first server.
        for (var i = 0; i < 8; i++)
        {
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", endpoint.Port, new NbdClientOptions { ExportName = "mem" });
            await client.FlushAsync();
        }
    }

    [Fact]
    public async Task A_wildcard_listener_and_a_loopback_one_on_the_same_port_do_not_coexist()
    {
        await using var first = new NbdServer(new ExportRegistry([new MemoryExport("mem", 1 << 20)]));
        var port = first.ListenTcp(new IPEndPoint(IPAddress.Any, 0)).Port;
        await using var second = new NbdServer(new ExportRegistry([new MemoryExport("mem", 1 << 20)]));
        var refused = Assert.Throws<IOException>(() => second.ListenTcp(new IPEndPoint(IPAddress.Loopback, port)));
        Assert.Contains($"127.0.0.1:{port}", refused.Message);
    }

    [Fact]
    public async Task A_port_is_free_again_as_soon_as_its_server_stops()
    {
        IPEndPoint endpoint;
        await using (var first = new NbdServer(new ExportRegistry([new MemoryExport("mem", 1 << 20)])))
        {
            endpoint = first.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0));
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", endpoint.Port, new NbdClientOptions { ExportName = "mem" });
            await client.FlushAsync();
            await first.StopAsync(); // the server closes first, so its side of the connection lingers in TIME_WAIT
        }

        // A restart must still bind beside that TIME_WAIT connection (SO_REUSEADDR without SO_REUSEPORT).
        await using var again = new NbdServer(new ExportRegistry([new MemoryExport("mem", 1 << 20)]));
        Assert.Equal(endpoint, again.ListenTcp(endpoint));
    }

    [Fact]
    public async Task A_live_unix_socket_is_not_taken_over_and_a_stale_one_is_replaced()
    {
        var path = Path.Combine(Path.GetTempPath(), $"blocksim-test-{Guid.NewGuid():N}.sock");
        await using (var first = new NbdServer(new ExportRegistry([new MemoryExport("mem", 1 << 20)])))
        {
            first.ListenUnix(path);
            await using var second = new NbdServer(new ExportRegistry([new MemoryExport("other", 1 << 20)]));
            var refused = Assert.Throws<IOException>(() => second.ListenUnix(path));
            Assert.Contains(path, refused.Message);
            await using var client = await NbdClient.ConnectUnixAsync(path, new NbdClientOptions { ExportName = "mem" });
            await client.FlushAsync(); // still the first server's
        }

        // A socket file nobody listens on, as a killed daemon leaves it. (Disposing a socket deletes the file
        // it bound, so bind elsewhere and move the file into place.)
        var elsewhere = path + ".bound";
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(elsewhere));
            File.Move(elsewhere, path);
        }

        Assert.True(File.Exists(path));
        await using var replacing = new NbdServer(new ExportRegistry([new MemoryExport("new", 1 << 20)]));
        replacing.ListenUnix(path);
        await using var attached = await NbdClient.ConnectUnixAsync(path, new NbdClientOptions { ExportName = "new" });
        await attached.FlushAsync();
    }
}
