using System.Collections.Concurrent;
using System.Diagnostics;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Protocol;
using HdrHistogram;

namespace BlockSim.LoadTest;

/// <summary>
/// Runs one scenario: <see cref="LoadOptions.Connections"/> connections, each with
/// <see cref="LoadOptions.QueueDepth"/> slots that keep one request in flight each. Closed loop: a slot sends
/// its next request when the last is answered. Open loop (a rate): each slot has a schedule, and latency is
/// measured from the scheduled time, so a server that falls behind is charged for the wait (no coordinated
/// omission). With verification, every write stores a recognisable block and every read of a block written
/// in this run is checked against the last acknowledged version.
/// </summary>
public sealed class LoadRunner(LoadOptions options, TextWriter? progress = null)
{
    private const long HighestMicroseconds = 60_000_000;
    private const int MaxFailuresKept = 20;

    private readonly List<string> _failures = [];
    private long _failureCount;
    private long _verifiedReads;
    private long _errors;
    private int[] _committed = [];
    private int[] _versions = [];
    private long _sequentialCursor = -1;
    private long _nextTicket;
    private long _blocks;
    private long[] _perSecond = [];
    private readonly ConcurrentDictionary<string, long> _errorsByKind = new();
    private readonly List<(double P50, double P99)> _latencyPerSecond = [];
    private Recorder? _interval;

    public async Task<LoadResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var clients = new List<NbdClient>();
        try
        {
            for (var i = 0; i < options.Connections; i++)
            {
                clients.Add(await NbdTarget.ConnectAsync(options.Url, cancellationToken).ConfigureAwait(false));
            }

            var range = options.Range > 0 ? Math.Min(options.Range, clients[0].Size) : clients[0].Size;
            _blocks = range / options.BlockSize;
            if (_blocks < 1)
            {
                throw new ArgumentException($"The export ({clients[0].Size} bytes) is smaller than one block of {options.BlockSize}.");
            }

            if (options.Verify && _blocks < 4L * options.Slots)
            {
                throw new ArgumentException($"Verification needs at least {4L * options.Slots} blocks (4 per request in flight) so no two requests touch one block; use a larger range or smaller queue.");
            }

            _committed = new int[options.Verify ? _blocks : 0];
            _versions = new int[options.Verify ? _blocks : 0];
            _perSecond = new long[(int)Math.Ceiling(options.Duration.TotalSeconds) + 1];

            _interval = new Recorder(1, HighestMicroseconds, 3, (id, low, high, digits) => new LongHistogram(id, low, high, digits));
            var clock = Stopwatch.StartNew();
            var measureFrom = options.Warmup;
            var stopAt = options.Warmup + options.Duration;
            var slots = Enumerable.Range(0, options.Slots).Select(i => new Slot(i, clients[i % clients.Count], options)).ToArray();
            using var stopProgress = new CancellationTokenSource();
            var reporter = ReportProgressAsync(clock, measureFrom, stopAt, stopProgress.Token);
            await Task.WhenAll(slots.Select(s => Task.Run(() => RunSlotAsync(s, clock, measureFrom, stopAt, cancellationToken), CancellationToken.None))).ConfigureAwait(false);
            var ended = clock.Elapsed;
            await stopProgress.CancelAsync().ConfigureAwait(false);
            await reporter.ConfigureAwait(false);

            // Interrupted (Ctrl+C): what was measured is the time from the end of the warm-up to the stop, and
            // every figure is divided by that, never by the duration asked for.
            var interrupted = cancellationToken.IsCancellationRequested && ended < stopAt;
            var measured = interrupted ? (ended > measureFrom ? ended - measureFrom : TimeSpan.Zero) : options.Duration;
            var seconds = (int)(interrupted ? measured.TotalSeconds : Math.Ceiling(options.Duration.TotalSeconds));
            if (_latencyPerSecond.Count < seconds)
            {
                // The last second ended with the run, before the sampler's tick for it.
                var last = _interval.GetIntervalHistogram();
                _latencyPerSecond.Add(last.TotalCount == 0 ? (double.NaN, double.NaN) : (last.GetValueAtPercentile(50), last.GetValueAtPercentile(99)));
            }

            var all = new LongHistogram(HighestMicroseconds, 3);
            var reads = new LongHistogram(HighestMicroseconds, 3);
            var writes = new LongHistogram(HighestMicroseconds, 3);
            foreach (var slot in slots)
            {
                reads.Add(slot.Reads);
                writes.Add(slot.Writes);
            }

            all.Add(reads);
            all.Add(writes);
            return new LoadResult
            {
                Options = options,
                Latency = all,
                ReadLatency = reads,
                WriteLatency = writes,
                Requests = all.TotalCount,
                Bytes = all.TotalCount * options.BlockSize,
                Errors = Interlocked.Read(ref _errors),
                VerifiedReads = Interlocked.Read(ref _verifiedReads),
                VerificationFailures = _failures.ToArray(),
                VerificationFailureCount = Interlocked.Read(ref _failureCount),
                RequestsPerSecond = _perSecond.Take(seconds).ToArray(), // whole seconds only
                Measured = measured,
                Interrupted = interrupted,
                ErrorsByKind = new SortedDictionary<string, long>(_errorsByKind, StringComparer.Ordinal),
                LatencyPerSecond = [.. _latencyPerSecond.Take(seconds)],
                Server = options.Url,
            };
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task RunSlotAsync(Slot slot, Stopwatch clock, TimeSpan measureFrom, TimeSpan stopAt, CancellationToken cancellationToken)
    {
        var interval = options.Rate > 0 ? TimeSpan.FromSeconds((double)options.Slots / options.Rate) : TimeSpan.Zero;
        var next = interval * slot.Index / options.Slots; // spread the slots' schedules evenly
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = clock.Elapsed;
            if (options.Shape is { } shape)
            {
                // The next request due, whichever slot is free to send it: late ones go at once, charged from when they were due.
                if (shape.DueTime(Interlocked.Increment(ref _nextTicket) - 1) is not { } due)
                {
                    return;
                }

                if (due > now)
                {
                    try
                    {
                        await Task.Delay(due - now, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }

                now = due;
            }
            else if (options.Rate > 0)
            {
                if (next > now)
                {
                    try
                    {
                        await Task.Delay(next - now, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return; // interrupted: the run ends with what it measured
                    }
                }

                now = next; // latency counts from when the request should have gone out
                next += interval;
            }

            if (now >= stopAt)
            {
                return;
            }

            var block = PickBlock(slot);
            var isRead = slot.Random.Next(100) < options.ReadPercent;
            var started = now;
            var ok = isRead ? await ReadAsync(slot, block).ConfigureAwait(false) : await WriteAsync(slot, block).ConfigureAwait(false);
            if (!ok)
            {
                Interlocked.Increment(ref _errors);
                if (slot.Lost)
                {
                    return; // the connection is gone; the run reports the errors
                }

                continue;
            }

            var done = clock.Elapsed;
            if (started >= measureFrom && done <= stopAt)
            {
                var microseconds = Math.Clamp((long)(done - started).TotalMicroseconds, 1, HighestMicroseconds);
                (isRead ? slot.Reads : slot.Writes).RecordValue(microseconds);
                _interval!.RecordValue(microseconds);
                Interlocked.Increment(ref _perSecond[(int)(done - measureFrom).TotalSeconds]);
            }
        }
    }

    private long PickBlock(Slot slot)
    {
        if (options.Pattern == AccessPattern.Sequential)
        {
            return Interlocked.Increment(ref _sequentialCursor) % _blocks;
        }

        if (!options.Verify)
        {
            return slot.Random.NextInt64(_blocks);
        }

        // Each slot owns the blocks congruent to its index, so no two requests in flight share a block.
        var owned = (_blocks - slot.Index + options.Slots - 1) / options.Slots;
        return slot.Index + options.Slots * slot.Random.NextInt64(owned);
    }

    private async Task<bool> ReadAsync(Slot slot, long block)
    {
        var expected = options.Verify ? Volatile.Read(ref _committed[block]) : 0;
        try
        {
            await slot.Client.ReadAsync((ulong)(block * options.BlockSize), slot.Buffer).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NbdClientException or IOException)
        {
            slot.Lost = e is IOException;
            CountError(e);
            return false;
        }

        if (expected > 0)
        {
            Interlocked.Increment(ref _verifiedReads);
            if (BlockPattern.Check(slot.Buffer.Span, block, expected, slot.Scratch) is { } problem)
            {
                Interlocked.Increment(ref _failureCount);
                lock (_failures)
                {
                    if (_failures.Count < MaxFailuresKept)
                    {
                        _failures.Add(problem);
                    }
                }
            }
        }

        return true;
    }

    private async Task<bool> WriteAsync(Slot slot, long block)
    {
        var version = 0;
        if (options.Verify)
        {
            version = Interlocked.Increment(ref _versions[block]);
            Volatile.Write(ref _committed[block], -1); // unknown until acknowledged
            BlockPattern.Fill(slot.Buffer.Span, block, version);
        }
        else
        {
            slot.Random.NextBytes(slot.Buffer.Span[..Math.Min(64, slot.Buffer.Length)]); // not all zeros: no sparse shortcut
        }

        try
        {
            await slot.Client.WriteAsync((ulong)(block * options.BlockSize), slot.Buffer).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NbdClientException or IOException)
        {
            slot.Lost = e is IOException;
            CountError(e);
            return false; // the block stays "unknown": a failed write may or may not have landed
        }

        if (options.Verify)
        {
            Volatile.Write(ref _committed[block], version);
        }

        return true;
    }

    /// <summary>Errors by the server's errno (EIO, ENOSPC, ...), or "connection lost".</summary>
    private void CountError(Exception e) =>
        _errorsByKind.AddOrUpdate(e is NbdClientException nbd ? NbdErrorNames.Of(nbd.Error) : "connection lost", 1, (_, n) => n + 1);

    private string ErrorsLine()
    {
        var total = Interlocked.Read(ref _errors);
        return total == 0 ? "errors 0" : $"errors {total} ({string.Join(", ", _errorsByKind.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}"))})";
    }

    private async Task ReportProgressAsync(Stopwatch clock, TimeSpan measureFrom, TimeSpan stopAt, CancellationToken stop)
    {
        // Ticks on the measured seconds: each takes that second's latencies (for the live line and the plot's
        // latency over time), whether or not anyone reads the lines.
        try
        {
            if (measureFrom > TimeSpan.Zero)
            {
                await WarmUpAsync(clock, measureFrom, stop).ConfigureAwait(false);
            }

            _interval!.GetIntervalHistogram(); // what the warm-up recorded is not the first second's
            for (var second = 1; !stop.IsCancellationRequested; second++)
            {
                var due = measureFrom + TimeSpan.FromSeconds(second) - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, stop).ConfigureAwait(false);
                }

                var latency = _interval.GetIntervalHistogram();
                var (p50, p99) = latency.TotalCount == 0 ? (double.NaN, double.NaN) : (latency.GetValueAtPercentile(50), latency.GetValueAtPercentile(99));
                lock (_latencyPerSecond)
                {
                    _latencyPerSecond.Add((p50, p99));
                }

                if (progress is not null && second <= _perSecond.Length && clock.Elapsed <= stopAt + TimeSpan.FromSeconds(1))
                {
                    var requests = Interlocked.Read(ref _perSecond[second - 1]);
                    await progress.WriteLineAsync(
                        $"[{second,4} s] {requests,9:N0} IOPS {requests * options.BlockSize / 1e6,9:0.0} MB/s  p50 {MarkdownReport.Time(p50)}  p99 {MarkdownReport.Time(p99)}  {ErrorsLine()}  verify failures {Interlocked.Read(ref _failureCount)}").ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the run ended
        }
    }

    private async Task WarmUpAsync(Stopwatch clock, TimeSpan measureFrom, CancellationToken stop)
    {
        while (clock.Elapsed < measureFrom)
        {
            var wait = TimeSpan.FromSeconds(Math.Min(1, (measureFrom - clock.Elapsed).TotalSeconds));
            await Task.Delay(wait, stop).ConfigureAwait(false);
            if (progress is not null)
            {
                await progress.WriteLineAsync($"[warm-up {clock.Elapsed.TotalSeconds,4:0} s]").ConfigureAwait(false);
            }
        }
    }

    /// <summary>One request in flight: its connection, buffers, random stream and latency histograms.</summary>
    private sealed class Slot(int index, NbdClient client, LoadOptions options)
    {
        public int Index { get; } = index;

        public NbdClient Client { get; } = client;

        public Random Random { get; } = new(HashCode.Combine(options.Seed, index));

        public Memory<byte> Buffer { get; } = new byte[options.BlockSize];

        public byte[] Scratch { get; } = new byte[options.BlockSize];

        public LongHistogram Reads { get; } = new(HighestMicroseconds, 3);

        public LongHistogram Writes { get; } = new(HighestMicroseconds, 3);

        public bool Lost { get; set; }
    }
}
