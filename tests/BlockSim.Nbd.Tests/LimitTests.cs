using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

/// <summary>Limits with clear behaviour: connections per address, idle connections, and memory under a write flood.</summary>
public class LimitTests
{
    [Fact]
    public async Task One_address_gets_at_most_its_connection_limit_and_a_slot_frees_when_one_closes()
    {
        await using var server = new TestServer(new NbdServerOptions { MaxConnectionsPerAddress = 2 });
        var first = await server.ConnectAsync();
        await using var second = await server.ConnectAsync();
        await Assert.ThrowsAnyAsync<IOException>(() => server.ConnectAsync()); // closed at once: no greeting
        await second.FlushAsync(); // the others carry on

        await first.DisposeAsync();
        for (var i = 0; i < 100 && server.Server.ConnectionCount > 1; i++)
        {
            await Task.Delay(20);
        }

        await using var third = await server.ConnectAsync();
        await third.FlushAsync();
    }

    [Fact]
    public async Task An_idle_connection_is_closed_and_one_with_a_request_in_flight_is_not()
    {
        // Robust on a loaded machine: "busy" holds a request in flight (its export waits) for longer than
        // the idle timeout, instead of relying on how often a delayed loop gets scheduled; its request is in
        // the export before "idle" even connects. The only timing left is the step from busy's handshake to
        // its request, which the 2 s timeout leaves ample room for (a CI run once stalled it past 500 ms).
        var slow = new BlockedExport();
        await using var server = new TestServer(new NbdServerOptions { IdleTimeout = TimeSpan.FromSeconds(2) }, slow);
        await using var busy = await server.ConnectAsync("blocked");
        var inFlight = busy.WriteAsync(0, new byte[512]);
        await slow.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var idle = await server.ConnectAsync();
        try
        {
            // Watch the server, not the client: probing the idle connection would make it busy.
            for (var i = 0; i < 400 && server.Server.ConnectionCount > 1; i++)
            {
                await Task.Delay(50);
            }

            Assert.Equal(1, server.Server.ConnectionCount);
            await Assert.ThrowsAnyAsync<IOException>(() => idle.FlushAsync());
            Assert.False(inFlight.IsCompleted);
        }
        finally
        {
            slow.Unblock.TrySetResult();
        }

        await inFlight; // answered: the connection with work in flight stayed open
        await busy.FlushAsync();
    }

    [Fact]
    public async Task A_flood_of_large_writes_is_held_back_by_the_in_flight_limit()
    {
        const int Write = 1 << 20;
        const long Limit = 8L << 20;
        var export = new BlockedExport();
        await using var server = new TestServer(new NbdServerOptions { MaxInFlightBytes = Limit, MaxInFlightRequests = 128 }, export);
        await using var raw = await server.RawAsync();
        await raw.GoAsync("blocked");

        // The export accepts nothing, so every byte the client gets out is held by the server or in transit.
        long sent = 0;
        var request = new byte[NbdRequest.Size + Write];
        using var flood = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            for (ulong cookie = 0; sent < 512L << 20; cookie++)
            {
                new NbdRequest(NbdCommandFlags.None, NbdCommand.Write, cookie, 0, Write).WriteTo(request);
                await raw.SendAsync(request, flood.Token);
                sent += request.Length;
            }
        }
        catch (Exception e) when (flood.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // the socket stopped taking bytes (backpressure) until the 2 s ran out; cancelling aborts the socket
        }

        // The limit, one request being read, the pipe's buffer and the kernel's socket buffers (a few MiB on loopback).
        Assert.InRange(sent, Limit, Limit + (24L << 20));
        export.Unblock.SetResult();
    }

    /// <summary>An export whose writes wait until the test unblocks them.</summary>
    internal sealed class BlockedExport() : DelegatingExport(new MemoryExport("blocked", 64L << 20))
    {
        public TaskCompletionSource Unblock { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Set when the first write reaches the export.</summary>
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            await Unblock.Task.WaitAsync(cancellationToken);
            await base.WriteAsync(offset, source, fua, cancellationToken);
        }
    }
}
