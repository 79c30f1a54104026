using System.Collections.Concurrent;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

/// <summary>Which exports get the inline path (the connection's own thread) and which the pipelined one.</summary>
public sealed class InlineTransmissionTests
{
    [Theory]
    [InlineData(true, true, true)]    // the default for an export that completes synchronously
    [InlineData(false, true, false)]  // inline transmission turned off
    [InlineData(true, false, false)]  // an export that waits (simulated latency): its requests must overlap
    public async Task Requests_run_on_the_connections_own_thread_only_for_synchronous_exports(bool inline, bool synchronous, bool expectOwnThread)
    {
        var export = new ThreadRecordingExport(synchronous);
        await using var server = new TestServer(new NbdServerOptions { InlineTransmission = inline }, export);
        await using var client = await server.ConnectAsync("recording");
        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => client.WriteAsync((ulong)i * 4096, TransmissionTests.Pattern(4096, i))));
        var back = new byte[4096];
        await client.ReadAsync(31 * 4096, back);
        Assert.Equal(TransmissionTests.Pattern(4096, 31), back);

        var threads = export.Threads.ToArray();
        Assert.Equal(33, threads.Length);
        if (expectOwnThread)
        {
            Assert.Single(threads.Select(t => t.Id).Distinct());
            Assert.All(threads, t => Assert.False(t.IsThreadPoolThread));
            Assert.All(threads, t => Assert.StartsWith("nbd connection", t.Name));
        }
        else
        {
            Assert.All(threads, t => Assert.True(t.IsThreadPoolThread));
        }
    }

    /// <summary>A memory export that notes which thread runs each read and write.</summary>
    private sealed class ThreadRecordingExport(bool synchronous) : DelegatingExport(new MemoryExport("recording", 1 << 20))
    {
        public ConcurrentQueue<(int Id, bool IsThreadPoolThread, string? Name)> Threads { get; } = new();

        public override bool CompletesSynchronously => synchronous;

        public override ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            Record();
            return base.ReadAsync(offset, destination, cancellationToken);
        }

        public override ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken)
        {
            Record();
            return base.WriteAsync(offset, source, fua, cancellationToken);
        }

        private void Record() =>
            Threads.Enqueue((Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name));
    }
}
