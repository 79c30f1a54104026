using System.Diagnostics;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;
using Xunit.Abstractions;

namespace BlockSim.Nbd.Tests;

/// <summary>
/// Clients that leave with requests queued, and clients that never read their replies: neither may cost the
/// server more than a moment's work and its share of the memory budget. Run alone (the soak collection),
/// since they count the process's threads and resident memory.
/// </summary>
[Collection("soak")]
public class DepartureTests(ITestOutputHelper output)
{
    private const int ReadSize = 256 * 1024;

    [Fact]
    public async Task A_thousand_clients_that_leave_with_requests_queued_free_their_slots_threads_and_buffers_at_once()
    {
        const int Departures = 1000;
        const int QueuedPerClient = 2000;
        var export = new CountingSlowExport();
        await using var server = new TestServer(new NbdServerOptions { MaxInFlightBytes = 1L << 20 }, export);
        var threadsBefore = Process.GetCurrentProcess().Threads.Count;

        var headers = new byte[QueuedPerClient * NbdRequest.Size];
        for (var i = 0; i < QueuedPerClient; i++)
        {
            new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, (ulong)i, (ulong)(i % 64) * ReadSize, ReadSize).WriteTo(headers.AsSpan(i * NbdRequest.Size));
        }

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Departures; i++)
        {
            var raw = await server.RawAsync();
            await raw.GoAsync("slow");
            await raw.SendAsync(headers);
            if (i % 2 == 0)
            {
                raw.Reset(); // a crashed client: a TCP reset
            }
            else
            {
                await raw.DisposeAsync(); // an orderly close without NBD_CMD_DISC
            }
        }

        var sent = clock.Elapsed;
        await WaitUntil(() => server.Server.ConnectionCount == 0 && server.Server.RentedBuffers == 0 && server.Server.PayloadBytesHeld == 0, TimeSpan.FromSeconds(60));
        var settled = clock.Elapsed;
        var threadsAfter = Process.GetCurrentProcess().Threads.Count;
        output.WriteLine($"{Departures} departures with {QueuedPerClient} READs each queued: sent in {sent.TotalSeconds:F1} s, all freed {(settled - sent).TotalSeconds:F1} s later; {export.Reads:N0} reads ran; threads {threadsBefore} -> {threadsAfter}");

        Assert.Equal(0, server.Server.ConnectionCount);
        Assert.Equal(0, server.Server.RentedBuffers);
        Assert.Equal(0, server.Server.PayloadBytesHeld);
        // The in-flight limit lets 4 reads run at once; a few rounds may start before the server sees that
        // the client has gone. Serving the queues would have run 2,000,000.
        Assert.InRange(export.Reads, 0, Departures * 50L);
        Assert.InRange(threadsAfter, 0, threadsBefore + 16);

        // And the server still serves the next client normally.
        await using var client = await server.ConnectAsync("slow");
        var data = new byte[ReadSize];
        await client.ReadAsync(0, data);
    }

    [Fact]
    public async Task Connections_that_never_read_their_replies_hold_no_more_than_the_server_memory_budget()
    {
        const long Budget = 32L << 20;
        const int Clients = 32;
        const int Read = 4 << 20;
        var export = new CountingSlowExport();
        await using var server = new TestServer(new NbdServerOptions { MaxMemory = Budget, MaxInFlightBytes = 16L << 20 }, export);
        using var self = Process.GetCurrentProcess();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        self.Refresh();
        var rssBefore = self.WorkingSet64;

        var headers = new byte[100 * NbdRequest.Size];
        for (var i = 0; i < 100; i++)
        {
            new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, (ulong)i, 0, Read).WriteTo(headers.AsSpan(i * NbdRequest.Size));
        }

        var clients = new List<RawNbd>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var raw = await server.RawAsync(receiveBuffer: 64 * 1024);
                await raw.GoAsync("slow");
                await raw.SendAsync(headers); // 400 MiB asked for, never read
                clients.Add(raw);
            }

            // Let the server fill every socket it can and then wait on the budget.
            long peakHeld = 0;
            var lastReads = -1L;
            for (var i = 0; i < 100 && export.Reads != lastReads; i++)
            {
                lastReads = export.Reads;
                await Task.Delay(200);
                peakHeld = Math.Max(peakHeld, server.Server.PayloadBytesHeld);
            }

            self.Refresh();
            var grown = self.WorkingSet64 - rssBefore;
            output.WriteLine($"{Clients} clients asking for {Clients * 100L * Read >> 20} MiB and reading none: {export.Reads} reads ran, peak held {peakHeld >> 20} MiB of a {Budget >> 20} MiB budget, resident memory grew {grown >> 20} MiB");
            Assert.InRange(peakHeld, 1, Budget);
            // The budget, plus the socket pipes' own buffers (64 KiB each way per connection) and the runtime's slack.
            Assert.InRange(grown, long.MinValue, Budget + (64L << 20));
        }
        finally
        {
            foreach (var raw in clients)
            {
                raw.Reset();
            }
        }

        await WaitUntil(() => server.Server.ConnectionCount == 0 && server.Server.PayloadBytesHeld == 0, TimeSpan.FromSeconds(30));
        Assert.Equal(0, server.Server.PayloadBytesHeld);
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < limit)
        {
            await Task.Delay(20);
        }
    }

    /// <summary>A memory export whose reads take 2 ms (cancellable, as a real device's queue wait is), counted.</summary>
    private sealed class CountingSlowExport() : DelegatingExport(new MemoryExport("slow", 64L << 20))
    {
        private long _reads;

        public long Reads => Interlocked.Read(ref _reads);

        public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            await Task.Delay(2, cancellationToken);
            await base.ReadAsync(offset, destination, cancellationToken);
        }
    }
}
