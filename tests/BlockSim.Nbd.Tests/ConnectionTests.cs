using System.Buffers.Binary;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

public class ConnectionTests : TransmissionPathTests
{
    [Fact]
    public async Task Hundreds_of_concurrent_requests_on_one_connection_all_complete_correctly()
    {
        await using var server = NewServer();
        await using var client = await server.ConnectAsync();
        const int requests = 512;
        var writes = Enumerable.Range(0, requests).Select(i => client.WriteAsync((ulong)i * 8192, TransmissionTests.Pattern(8192, i)));
        await Task.WhenAll(writes);
        var reads = Enumerable.Range(0, requests).Select(async i =>
        {
            var back = new byte[8192];
            await client.ReadAsync((ulong)i * 8192, back);
            return back.AsSpan().SequenceEqual(TransmissionTests.Pattern(8192, i));
        });
        Assert.All(await Task.WhenAll(reads), Assert.True);
    }

    [Fact]
    public async Task Writes_either_side_of_the_clients_copy_threshold_land_intact()
    {
        // The client sends a payload of up to 64 KiB in one piece with its header, a larger one after it.
        await using var server = NewServer();
        await using var client = await server.ConnectAsync();
        int[] sizes = [1, 4096, 65535, 65536, 65537, 131075];
        await Task.WhenAll(sizes.Select((size, i) => client.WriteAsync((ulong)i << 18, TransmissionTests.Pattern(size, i + 1))));
        for (var i = 0; i < sizes.Length; i++)
        {
            var back = new byte[sizes[i] + 1];
            await client.ReadAsync((ulong)i << 18, back);
            Assert.True(back.AsSpan(0, sizes[i]).SequenceEqual(TransmissionTests.Pattern(sizes[i], i + 1)), $"{sizes[i]} bytes");
            Assert.Equal(0, back[sizes[i]]); // nothing written past the payload
        }
    }

    [Fact]
    public async Task Replies_can_overtake_earlier_requests()
    {
        // The read at offset 0 waits on a gate; reads sent after it must be answered first.
        var gate = new GatedExport();
        await using var server = NewServer(null, gate);
        await using var raw = await server.RawAsync();
        await raw.GoAsync("gated");
        await raw.SendRequestAsync(NbdCommand.Read, 0, 1, 0, 512);
        for (ulong cookie = 2; cookie <= 5; cookie++)
        {
            await raw.SendRequestAsync(NbdCommand.Read, 0, cookie, 4096, 512);
        }

        var order = new List<ulong>();
        for (var i = 0; i < 4; i++)
        {
            var (error, cookie) = await raw.ReadSimpleReplyAsync();
            Assert.Equal(NbdError.None, error);
            await raw.ReadAsync(512);
            order.Add(cookie);
        }

        gate.Open.TrySetResult();
        var (lastError, last) = await raw.ReadSimpleReplyAsync();
        await raw.ReadAsync(512);
        Assert.Equal(new ulong[] { 2, 3, 4, 5 }, order.Order().ToArray());
        Assert.Equal((NbdError.None, 1UL), (lastError, last));
    }

    [Fact]
    public async Task Several_connections_share_one_export()
    {
        await using var server = NewServer();
        await using var a = await server.ConnectAsync();
        await using var b = await server.ConnectAsync();
        Assert.True(a.Flags.HasFlag(NbdTransmissionFlags.CanMultiConn));
        await a.WriteAsync(4096, new byte[] { 9, 8, 7 });
        await a.FlushAsync();
        var back = new byte[3];
        await b.ReadAsync(4096, back);
        Assert.Equal(new byte[] { 9, 8, 7 }, back);
    }

    [Fact]
    public async Task A_bad_request_magic_closes_only_that_connection()
    {
        await using var server = NewServer();
        await using var good = await server.ConnectAsync();
        await using var raw = await server.RawAsync();
        await raw.GoAsync("mem");
        var garbage = new byte[NbdRequest.Size];
        new NbdRequest(0, NbdCommand.Read, 1, 0, 512).WriteTo(garbage);
        BinaryPrimitives.WriteUInt32BigEndian(garbage, 0x12345678);
        await raw.SendAsync(garbage);
        Assert.True(await raw.IsClosedByServerAsync());
        await good.WriteAsync(0, new byte[512]);
    }

    [Fact]
    public async Task Clients_vanishing_mid_request_leave_the_server_serving()
    {
        await using var server = NewServer();
        for (var i = 0; i < 20; i++)
        {
            await using var raw = await server.RawAsync();
            await raw.GoAsync("mem");
            // Half a header, or a header and half a WRITE payload, then gone.
            var request = new byte[NbdRequest.Size + 100];
            new NbdRequest(0, NbdCommand.Write, 1, 0, 4096).WriteTo(request);
            await raw.SendAsync(i % 2 == 0 ? request[..13] : request);
        }

        await using var client = await server.ConnectAsync();
        await client.WriteAsync(0, new byte[] { 1 });
        await WaitUntil(() => server.Server.ConnectionCount == 1);
    }

    [Fact]
    public async Task Disconnect_finishes_what_is_in_flight_then_closes()
    {
        await using var server = NewServer();
        await using var raw = await server.RawAsync();
        await raw.GoAsync("mem");
        await raw.SendRequestAsync(NbdCommand.Write, 0, 1, 0, 4, [1, 2, 3, 4]);
        await raw.SendRequestAsync(NbdCommand.Disconnect, 0, 2, 0, 0);
        Assert.Equal((NbdError.None, 1UL), await raw.ReadSimpleReplyAsync());
        Assert.True(await raw.IsClosedByServerAsync());
        var back = new byte[4];
        await server.Memory.ReadAsync(0, back, default);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, back);
    }

    [Fact]
    public async Task Stopping_the_server_answers_requests_already_read_and_closes_connections()
    {
        var server = NewServer();
        await using var client = await server.ConnectAsync();
        await client.WriteAsync(0, new byte[4096]);
        var stop = server.Server.StopAsync();
        Assert.True(await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(10))) == stop, "StopAsync did not finish");
        Assert.Equal(0, server.Server.ConnectionCount);
        await Assert.ThrowsAnyAsync<IOException>(() => client.FlushAsync());
        await server.DisposeAsync();
    }

    [Fact]
    public async Task In_flight_limits_hold_back_a_client_that_runs_ahead()
    {
        await using var server = NewServer(new NbdServerOptions { MaxInFlightRequests = 2, MaxInFlightBytes = 1 << 20 });
        await using var client = await server.ConnectAsync();
        var writes = Enumerable.Range(0, 64).Select(i => client.WriteAsync((ulong)i << 20, TransmissionTests.Pattern(1 << 20, i)));
        await Task.WhenAll(writes);
        var back = new byte[1 << 20];
        await client.ReadAsync(63UL << 20, back);
        Assert.Equal(TransmissionTests.Pattern(1 << 20, 63), back);
    }

    [Fact]
    public async Task Unix_socket_listener_serves_the_same_exports()
    {
        var path = Path.Combine(Path.GetTempPath(), $"blocksim-test-{Guid.NewGuid():N}.sock");
        await using var server = NewServer();
        server.Server.ListenUnix(path);
        await using var client = await NbdClient.ConnectUnixAsync(path, new NbdClientOptions { ExportName = "mem" });
        Assert.Equal(TestServer.MemorySize, client.Size);
        await client.FlushAsync();
        await client.DisposeAsync();
        await server.Server.StopAsync();
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task A_client_reset_in_the_middle_of_a_write_payload_closes_the_connection_and_the_server_stops()
    {
        // Regression: the reset escaped the payload read as an exception, so the request never gave back its
        // slot and the connection (and a server stop) waited for it forever. Found by a CI run of the flood test.
        var server = NewServer();
        await using var raw = await server.RawAsync();
        await raw.GoAsync("mem");
        var partial = new byte[NbdRequest.Size + 1000];
        new NbdRequest(NbdCommandFlags.None, NbdCommand.Write, 1, 0, 64 * 1024).WriteTo(partial);
        await raw.SendAsync(partial);
        await Task.Delay(200); // let the server start reading the payload
        raw.Reset();

        for (var i = 0; i < 200 && server.Server.ConnectionCount > 0; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, server.Server.ConnectionCount);
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); // throws TimeoutException if the stop hangs
    }

    [Fact]
    public async Task Stopping_the_server_ends_a_connection_whose_client_stopped_reading_replies()
    {
        // 64 MiB of READ replies that the client never reads: the server blocks sending once the socket
        // buffers are full, and a stop must still end the connection once the drain period is over.
        var server = NewServer(new NbdServerOptions { DrainTimeout = TimeSpan.FromMilliseconds(500) });
        await using var raw = await server.RawAsync(receiveBuffer: 4096);
        await raw.GoAsync("mem");
        for (ulong cookie = 0; cookie < 64; cookie++)
        {
            await raw.SendRequestAsync(NbdCommand.Read, 0, cookie, 0, 1 << 20);
        }

        await Task.Delay(300); // let the server fill the socket
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)); // throws TimeoutException if the stop hangs
        Assert.Equal(0, server.Server.ConnectionCount);
    }

    [Fact]
    public async Task Requests_sent_right_behind_the_go_option_are_answered()
    {
        // A client may send requests without waiting for GO's reply; they can arrive in the same segment as
        // GO, so the handshake has already read them when transmission starts.
        await using var server = NewServer();
        await using var raw = await server.RawAsync();
        await raw.GreetAsync();
        await raw.SendAsync([
            .. RawNbd.Option((uint)NbdOption.Go, RawNbd.InfoPayload("mem")),
            .. RawNbd.Request(NbdCommand.Write, 1, 0, 4, [9, 8, 7, 6]),
            .. RawNbd.Request(NbdCommand.Read, 2, 4096, 4),
        ]);
        Assert.Equal(NbdOptionReplyType.Ack, (await raw.ReadOptionRepliesAsync())[^1].Type);

        // The pipelined path may answer them in either order.
        var answered = new List<ulong>();
        for (var i = 0; i < 2; i++)
        {
            var (error, cookie) = await raw.ReadSimpleReplyAsync();
            Assert.Equal(NbdError.None, error);
            if (cookie == 2)
            {
                Assert.Equal(new byte[4], await raw.ReadAsync(4));
            }

            answered.Add(cookie);
        }

        Assert.Equal(new ulong[] { 1, 2 }, answered.Order().ToArray());
        var back = new byte[4];
        await server.Memory.ReadAsync(0, back, default);
        Assert.Equal(new byte[] { 9, 8, 7, 6 }, back);
    }

    /// <summary>A memory export whose read at offset 0 waits until the test opens the gate.</summary>
    private sealed class GatedExport() : DelegatingExport(new MemoryExport("gated", 1 << 20))
    {
        public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (offset == 0)
            {
                await Open.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            }

            await base.ReadAsync(offset, destination, cancellationToken);
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(condition());
    }
}
