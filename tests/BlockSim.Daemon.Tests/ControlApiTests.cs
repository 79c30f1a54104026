using System.Net.Sockets;
using System.Text;
using BlockSim.Interop.Tests;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Protocol;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>The simulator driven at run time through the admin socket, with real clients attached.</summary>
public class ControlApiTests
{
    [Fact]
    public async Task A_fault_on_some_sectors_fails_their_reads_and_clearing_it_needs_no_reconnect()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "16M");
        var port = daemon.Port;
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
        var buffer = new byte[4096];

        var added = await daemon.SimAsync("fault", "add", "default", "--op", "read", "--sectors", "8-15");
        Assert.True(added.Exit == 0, added.Output);
        Assert.Contains("rule 1: Error on Read, sectors 8..15, EIO", added.Output);
        Assert.Equal(NbdError.IO, (await Assert.ThrowsAsync<NbdClientException>(() => client.ReadAsync(4096, buffer))).Error);
        await client.ReadAsync(0, buffer); // sectors 0..7 are not in the rule
        await client.WriteAsync(4096, buffer); // nor are writes

        Assert.Equal(0, (await daemon.SimAsync("fault", "clear", "default")).Exit);
        await client.ReadAsync(4096, buffer); // the same connection reads again

        var events = await daemon.SimAsync("events", "default");
        Assert.Contains("fault rule 1 Read offset 4096 length 4096 errno 5", events.Output);
        Assert.Contains("user:", daemon.Process.Output); // each change logged with who made it
    }

    [SkippableFact]
    public async Task Qemu_io_sees_an_injected_ENOSPC_as_no_space_left()
    {
        ExternalTool.Require("qemu-io", "qemu-utils");
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "16M");
        var port = daemon.Port;
        Assert.Equal(0, (await daemon.SimAsync("fault", "add", "default", "--op", "write", "--errno", "ENOSPC", "--offset", "1048576", "--length", "65536")).Exit);

        var (_, output) = await ExternalTool.RunAsync("qemu-io", ["-f", "raw", $"nbd://127.0.0.1:{port}/default", "-c", "write 1048576 4096", "-c", "write 0 4096"]);
        Assert.Contains("write failed: No space left on device", output);
        Assert.Contains("wrote 4096/4096 bytes at offset 0", output);
    }

    [Fact]
    public async Task Bad_requests_get_a_4xx_with_a_message_and_the_daemon_carries_on()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M");
        var port = daemon.Port;

        Assert.StartsWith("HTTP/1.1 404", await Raw(daemon.Control, "POST", "/v1/exports/nope/faults", "{}"));
        Assert.Contains("no such field", await Raw(daemon.Control, "POST", "/v1/exports/default/faults", """{"kind":"error","sector":3}"""));
        Assert.StartsWith("HTTP/1.1 400", await Raw(daemon.Control, "POST", "/v1/exports/default/faults", "{not json"));
        Assert.StartsWith("HTTP/1.1 400", await Raw(daemon.Control, "POST", "/v1/exports/default/faults", """{"kind":"melt"}"""));
        var pastTheEnd = await daemon.SimAsync("fault", "add", "default", "--sectors", "2048");
        Assert.Equal(2, pastTheEnd.Exit);
        Assert.Contains("not a range on this device (sectors 0..2047)", pastTheEnd.Output);
        Assert.Equal(3, (await daemon.SimAsync("pause", "nope")).Exit);

        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
        await client.ReadAsync(0, new byte[512]);
        Assert.Contains("0 fault rules", (await daemon.SimAsync("show", "default")).Output);
    }

    [Fact]
    public async Task Pause_holds_requests_and_resume_lets_them_through()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M");
        var port = daemon.Port;
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });

        Assert.Contains("paused after request", (await daemon.SimAsync("pause", "default")).Output);
        var held = client.ReadAsync(0, new byte[512]);
        await Task.Delay(300);
        Assert.False(held.IsCompleted);
        Assert.Equal(0, (await daemon.SimAsync("resume", "default")).Exit);
        await held.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_power_cut_through_the_api_can_leave_a_write_torn_and_keeps_what_was_flushed()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M", "--volatile-cache", "--seed", "4");
        var port = daemon.Port;
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
        var flushed = Enumerable.Repeat((byte)0xAA, 4096).ToArray();
        await client.WriteAsync(0, flushed);
        await client.FlushAsync();
        await client.WriteAsync(65536, Enumerable.Repeat((byte)0xBB, 65536).ToArray()); // 128 sectors, unflushed

        var cut = await daemon.SimAsync("power-cut", "default", "--survival", "0.5", "--tearing", "sector");
        Assert.True(cut.Exit == 0, cut.Output);
        Assert.Contains("1 writes torn", cut.Output);
        var back = new byte[65536];
        await client.ReadAsync(65536, back); // the same connection, after the cut
        var survived = back.Count(b => b == 0xBB);
        Assert.InRange(survived, 512, 65536 - 512);
        Assert.Equal(0, survived % 512); // whole sectors, never torn inside one
        await client.ReadAsync(0, back.AsMemory(0, 4096));
        Assert.Equal(flushed, back[..4096]);
        Assert.Contains("power-cut", (await daemon.SimAsync("events", "default")).Output);
    }

    [Fact]
    public async Task Set_changes_a_configured_layer_at_run_time_and_refuses_one_the_export_lacks()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M", "--fail-writes", "0.000001", "--latency-ms", "1");
        var port = daemon.Port;
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
        await client.WriteAsync(0, new byte[4096]);

        var set = await daemon.SimAsync("set", "default", "--fail-writes", "1", "--latency-ms", "2");
        Assert.True(set.Exit == 0, set.Output);
        Assert.Contains("latencyMs 2", set.Output);
        Assert.Equal(NbdError.IO, (await Assert.ThrowsAsync<NbdClientException>(() => client.WriteAsync(0, new byte[4096]))).Error);
        Assert.Equal(0, (await daemon.SimAsync("set", "default", "--fail-writes", "0")).Exit);
        await client.WriteAsync(0, new byte[4096]); // the same connection writes again

        var lacking = await daemon.SimAsync("set", "default", "--iops", "100");
        Assert.NotEqual(0, lacking.Exit);
        Assert.Contains("no throttling", lacking.Output);
        var outOfRange = await daemon.SimAsync("set", "default", "--fail-reads", "2");
        Assert.Equal(2, outOfRange.Exit);
        Assert.Contains("failReads 2", outOfRange.Output);
        Assert.Contains("changed its simulation", daemon.Process.Output);
    }

    [Fact]
    public async Task Disconnect_drops_the_exports_clients_and_keeps_it_down_for_the_time_asked()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M");
        var port = daemon.Port;
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
        await client.ReadAsync(0, new byte[512]);

        var dropped = await daemon.SimAsync("disconnect", "default", "--down-seconds", "3");
        Assert.True(dropped.Exit == 0, dropped.Output);
        Assert.Contains("1 clients disconnected", dropped.Output);
        await Assert.ThrowsAnyAsync<Exception>(() => client.ReadAsync(0, new byte[512]).WaitAsync(TimeSpan.FromSeconds(10)));

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" }));
        Assert.Contains("down (simulated)", refused.ToString());
        await Task.Delay(3500);
        await using var back = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
        await back.ReadAsync(0, new byte[512]);
    }

    [Fact]
    public async Task A_reset_rule_drops_the_connection_of_the_request_it_hits()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M");
        var added = await daemon.SimAsync("fault", "add", "default", "--kind", "reset", "--op", "read", "--sectors", "0", "--count", "1");
        Assert.True(added.Exit == 0, added.Output);
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", daemon.Port, new NbdClientOptions { ExportName = "default" });
        await client.WriteAsync(0, new byte[512]); // writes are not in the rule
        var reset = await Assert.ThrowsAnyAsync<Exception>(() => client.ReadAsync(0, new byte[512]).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.IsNotType<TimeoutException>(reset);
        await Assert.ThrowsAnyAsync<Exception>(() => client.ReadAsync(4096, new byte[512]).WaitAsync(TimeSpan.FromSeconds(10))); // the connection is gone

        await using var again = await NbdClient.ConnectTcpAsync("127.0.0.1", daemon.Port, new NbdClientOptions { ExportName = "default" });
        await again.ReadAsync(0, new byte[512]); // the count is spent; the daemon carries on
    }

    [Fact]
    public async Task Bit_flips_under_the_cipher_garble_a_16_byte_block_and_above_it_change_one_bit()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M", "--encrypted");
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", daemon.Port, new NbdClientOptions { ExportName = "default" });
        var written = Enumerable.Range(0, 8192).Select(i => (byte)(i * 13 + 5)).ToArray();
        await client.WriteAsync(0, written);

        var below = await daemon.SimAsync("fault", "add", "default", "--kind", "bit-flip", "--op", "read", "--sectors", "0", "--count", "1");
        Assert.True(below.Exit == 0, below.Output);
        var above = await daemon.SimAsync("fault", "add", "default", "--kind", "bit-flip", "--op", "read", "--offset", "4096", "--length", "4096", "--count", "1", "--above-cipher");
        Assert.True(above.Exit == 0, above.Output);
        Assert.Contains("above the cipher", above.Output);

        var read = new byte[8192];
        await client.ReadAsync(0, read);

        var garbled = Enumerable.Range(0, 4096).Where(i => read[i] != written[i]).ToList();
        Assert.InRange(garbled.Count, 2, 16); // a block of random plaintext: almost surely many bytes, all in one 16-byte block
        Assert.Equal(garbled[0] / 16, garbled[^1] / 16);
        var flipped = Enumerable.Range(4096, 4096).Sum(i => System.Numerics.BitOperations.PopCount((uint)(read[i] ^ written[i])));
        Assert.Equal(1, flipped);
        Assert.Contains("above the cipher", (await daemon.SimAsync("events", "default")).Output);
    }

    private static async Task<string> Raw(string socketPath, string method, string path, string body)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket);
        var request = $"{method} {path} HTTP/1.1\r\nHost: blocksim\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request));
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }
}
