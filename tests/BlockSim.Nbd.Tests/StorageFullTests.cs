using System.Collections.Concurrent;
using System.Net;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Tests;

/// <summary>
/// A backing store that runs out of space (ENOSPC, or EDQUOT for a quota) is not a failing disk: the client
/// hears ENOSPC for the writes it refuses, and the log says so once per episode, in one line without a
/// stack trace, however many writes fail; the first write that succeeds again ends the episode.
/// </summary>
public class StorageFullTests : TransmissionPathTests
{
    private const int ENOSPC = 28;
    private const int EDQUOT = 122;

    [Theory]
    [InlineData(ENOSPC)]
    [InlineData(EDQUOT)]
    public async Task Writes_to_a_full_backing_store_get_enospc_and_the_log_says_so_once(int errno)
    {
        var export = new FullExport(Inline, errno);
        var log = new CapturingLogger();
        await using var server = new NbdServer(new ExportRegistry([export]), new NbdServerOptions { InlineTransmission = Inline }, log);
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "full" });

        for (var i = 0; i < 40; i++)
        {
            var write = await Assert.ThrowsAsync<NbdClientException>(() => client.WriteAsync((ulong)i * 4096, new byte[4096]));
            Assert.Equal(NbdError.NoSpace, write.Error);
        }

        Assert.Equal(NbdError.NoSpace, (await Assert.ThrowsAsync<NbdClientException>(() => client.WriteZeroesAsync(0, 1 << 20, NbdCommandFlags.NoHole))).Error);
        Assert.Equal(NbdError.NoSpace, (await Assert.ThrowsAsync<NbdClientException>(() => client.TrimAsync(0, 1 << 20))).Error);

        export.Full = false;
        await client.WriteAsync(0, new byte[4096]); // space again: the episode ends
        await client.WriteAsync(4096, new byte[4096]);

        var lines = log.Lines.ToArray();
        Assert.DoesNotContain(lines, l => l.Exception is not null);
        Assert.DoesNotContain(lines, l => l.Text.Contains(" at ", StringComparison.Ordinal));
        var full = Assert.Single(lines, l => l.Level >= LogLevel.Warning);
        Assert.Contains("'full'", full.Text);
        Assert.Contains("no space", full.Text, StringComparison.OrdinalIgnoreCase);
        var recovered = Assert.Single(lines, l => l.Text.Contains("42 writes", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Information, recovered.Level);
    }

    [Fact]
    public async Task Other_io_errors_stay_eio_and_are_not_logged_once_per_request()
    {
        var export = new FullExport(Inline, errno: 5) { Message = "Input/output error : '/srv/secret/path.vol'" };
        var log = new CapturingLogger();
        await using var server = new NbdServer(new ExportRegistry([export]), new NbdServerOptions { InlineTransmission = Inline }, log);
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "full" });
        for (var i = 0; i < 30; i++)
        {
            Assert.Equal(NbdError.IO, (await Assert.ThrowsAsync<NbdClientException>(() => client.WriteAsync(0, new byte[512]))).Error);
        }

        Assert.InRange(log.Lines.Count(l => l.Level >= LogLevel.Warning), 1, 2);
        Assert.DoesNotContain(log.Lines, l => l.Exception is not null);
    }

    /// <summary>An export whose writes fail as a full file system makes them fail, while <see cref="Full"/> is set.</summary>
    private sealed class FullExport(bool inline, int errno) : DelegatingExport(new MemoryExport("full", 16L << 20))
    {
        public volatile bool Full = true;

        public string Message { get; init; } = "No space left on device : '/srv/volumes/full.vol'";

        public override bool CompletesSynchronously => inline;

        public override ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken) =>
            Full ? throw new IOException(Message, errno) : base.WriteAsync(offset, source, fua, cancellationToken);

        public override ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly, bool fua, CancellationToken cancellationToken) =>
            Full ? throw new IOException(Message, errno) : base.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, fua, cancellationToken);

        public override ValueTask TrimAsync(long offset, long length, bool fua, CancellationToken cancellationToken) =>
            Full ? throw new IOException($"fallocate on the backing file failed (errno {errno}).", errno) : base.TrimAsync(offset, length, fua, cancellationToken);
    }
}

public sealed class PipelinedStorageFullTests : StorageFullTests
{
    protected override bool Inline => false;
}

/// <summary>Keeps every log line with its level and exception (a stack trace in the log is an exception attached to it).</summary>
public sealed class CapturingLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, EventId Event, string Text, Exception? Exception)> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Lines.Enqueue((logLevel, eventId, formatter(state, exception), exception));
        }
    }
}
