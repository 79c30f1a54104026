using BlockSim.Nbd.Exports;
using System.Diagnostics;
using System.Net;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

/// <summary>
/// Who gets a slot when clients misbehave. Clients bind addresses of 127.0.0.0/8 to stand for different
/// machines: 127.0.0.2 and 127.0.0.3 are the noisy ones, 127.0.0.1 (the test's own client) the legitimate one.
/// </summary>
public class AdmissionTests
{
    private static readonly IPAddress s_noisy = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress s_other = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task One_address_that_opens_sockets_and_sends_nothing_cannot_fill_the_connection_table()
    {
        // The defaults but for a small table: what a reviewer did with 1,024 slots, in 24.
        await using var server = new TestServer(new NbdServerOptions { MaxConnections = 24 });
        var sockets = new List<RawNbd>();
        try
        {
            for (var i = 0; i < 24; i++)
            {
                sockets.Add(await server.RawAsync(from: s_noisy));
            }

            // Each socket either gets the greeting (it holds a slot in the handshake) or is closed at once.
            var greeted = 0;
            foreach (var socket in sockets)
            {
                try
                {
                    await socket.ReadAsync(18);
                    greeted++;
                }
                catch (Exception e) when (e is EndOfStreamException or IOException)
                {
                    // refused
                }
            }

            Assert.Equal(new NbdServerOptions().MaxHandshakesPerAddress, greeted);

            // Someone else still gets in at once, without waiting for the 30 s handshake timeout.
            await using var client = await server.ConnectAsync();
            await client.FlushAsync();
        }
        finally
        {
            foreach (var socket in sockets)
            {
                await socket.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_connection_that_has_attached_no_longer_counts_against_its_addresses_handshakes()
    {
        await using var server = new TestServer(new NbdServerOptions { MaxHandshakesPerAddress = 2 });
        await using var first = await server.RawAsync(from: s_noisy);
        await using var second = await server.RawAsync(from: s_noisy);
        await first.GoAsync("mem");
        await second.GoAsync("mem");
        await using var third = await server.RawAsync(from: s_noisy);
        await using var fourth = await server.RawAsync(from: s_noisy);
        await third.ReadAsync(18);
        await fourth.ReadAsync(18);
        await using var fifth = await server.RawAsync(from: s_noisy); // two in the handshake already
        Assert.True(await fifth.IsClosedByServerAsync());
    }

    [Fact]
    public async Task A_full_table_makes_room_by_closing_an_idle_connection_of_the_address_holding_most()
    {
        await using var server = new TestServer(new NbdServerOptions { MaxConnections = 4, ReclaimIdleAfter = TimeSpan.FromSeconds(1) });
        var noisy = new List<RawNbd>();
        for (var i = 0; i < 3; i++)
        {
            noisy.Add(await server.RawAsync(from: s_noisy));
            await noisy[^1].GoAsync("mem");
        }

        await using var single = await server.RawAsync(from: s_other);
        await single.GoAsync("mem");
        try
        {
            await Task.Delay(2000);
            Assert.Equal(4, server.Server.ConnectionCount); // idle past the threshold, but nobody needed the slots

            await using var newcomer = await server.ConnectAsync();
            await newcomer.FlushAsync();

            // One of the three from 127.0.0.2 was closed; the only one from 127.0.0.3 was not.
            var closed = 0;
            foreach (var connection in noisy)
            {
                closed += await connection.IsClosedByServerAsync(TimeSpan.FromSeconds(closed == 0 ? 10 : 1)) ? 1 : 0;
            }

            Assert.Equal(1, closed);
            await single.SendRequestAsync(NbdCommand.Flush, NbdCommandFlags.None, 7, 0, 0);
            Assert.Equal((NbdError.None, 7UL), await single.ReadSimpleReplyAsync());
        }
        finally
        {
            foreach (var connection in noisy)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_connection_with_a_request_in_flight_is_never_reclaimed()
    {
        var blocked = new LimitTests.BlockedExport();
        await using var server = new TestServer(new NbdServerOptions { MaxConnections = 1, ReclaimIdleAfter = TimeSpan.FromMilliseconds(200) }, blocked);
        await using var busy = await server.ConnectAsync("blocked");
        var write = busy.WriteAsync(0, new byte[512]);
        await blocked.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(1000);
        await Assert.ThrowsAnyAsync<IOException>(() => server.ConnectAsync()); // refused: the only connection is busy
        blocked.Unblock.SetResult();
        await write;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_address_at_its_own_limit_makes_room_from_its_own_idle_connections(bool inline)
    {
        await using var server = new TestServer(new NbdServerOptions { MaxConnectionsPerAddress = 2, ReclaimIdleAfter = TimeSpan.FromSeconds(1), InlineTransmission = inline });
        await using var old = await server.RawAsync(from: s_noisy);
        await old.GoAsync("mem");
        await Task.Delay(1500);
        await using var recent = await server.RawAsync(from: s_noisy);
        await recent.GoAsync("mem");
        await using var newcomer = await server.RawAsync(from: s_noisy);
        await newcomer.GoAsync("mem");
        Assert.True(await old.IsClosedByServerAsync());
        await recent.SendRequestAsync(NbdCommand.Flush, NbdCommandFlags.None, 1, 0, 0);
        Assert.Equal((NbdError.None, 1UL), await recent.ReadSimpleReplyAsync());
    }

    [Fact]
    public async Task One_address_connecting_in_a_loop_is_held_to_its_rate_and_the_log_to_a_few_lines()
    {
        const double Rate = 10;
        const int Burst = 10;
        var log = new CapturingLogger();
        await using var server = new NbdServer(
            new ExportRegistry([new Exports.MemoryExport("mem", 1 << 20)]),
            new NbdServerOptions { ConnectionsPerSecondPerAddress = Rate, ConnectionBurstPerAddress = Burst },
            log);
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;

        var clock = Stopwatch.StartNew();
        var served = 0;
        for (var i = 0; i < 100; i++)
        {
            await using var raw = await RawNbd.ConnectAsync(port, from: s_noisy);
            try
            {
                await raw.GoAsync("mem");
                served++;
            }
            catch (Exception e) when (e is EndOfStreamException or IOException)
            {
                // refused at once
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        Assert.InRange(served, Burst, Burst + (int)(Rate * seconds) + 1);
        Assert.InRange(log.Lines.Count(l => l.Event.Id == 1013), 1, 2 + (int)(seconds / 10));

        // Another address is not affected.
        await using var other = await RawNbd.ConnectAsync(port, from: s_other);
        await other.GoAsync("mem");
    }

    [Fact]
    public async Task Refused_attaches_in_a_loop_log_a_line_per_kind_of_refusal_not_per_attempt()
    {
        var log = new CapturingLogger();
        await using var server = new NbdServer(new ExportRegistry([new RefusingExport()]), new NbdServerOptions(), log);
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;
        for (var i = 0; i < 50; i++)
        {
            await using var raw = await RawNbd.ConnectAsync(port);
            await raw.GreetAsync();
            await raw.SendOptionAsync((uint)NbdOption.Go, RawNbd.InfoPayload("refusing"));
            Assert.Equal(NbdOptionReplyType.ErrorPolicy, (await raw.ReadOptionRepliesAsync())[^1].Type);
        }

        Assert.InRange(log.Lines.Count(l => l.Event.Id == 2004), 1, 6); // a line per 10 s at most
    }

    /// <summary>An export every attach of which is refused, as a key store that cannot write its audit log refuses them.</summary>
    private sealed class RefusingExport() : DelegatingExport(new MemoryExport("refusing", 1 << 20)), IAttachableExport
    {
        public ValueTask<NbdAttachment> AttachAsync(NbdClientIdentity client, CancellationToken cancellationToken) =>
            ValueTask.FromResult(NbdAttachment.Refuse(new NbdRefusal("AuditWriteFailed", "the audit log cannot be written: No space left on device")));
    }
}
