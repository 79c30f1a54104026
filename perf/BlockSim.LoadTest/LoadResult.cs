using HdrHistogram;

namespace BlockSim.LoadTest;

/// <summary>What a run measured. Latencies are in microseconds.</summary>
public sealed class LoadResult
{
    public required LoadOptions Options { get; init; }

    public required HistogramBase Latency { get; init; }

    public required HistogramBase ReadLatency { get; init; }

    public required HistogramBase WriteLatency { get; init; }

    public required long Requests { get; init; }

    public required long Bytes { get; init; }

    public required long Errors { get; init; }

    public required long VerifiedReads { get; init; }

    public required IReadOnlyList<string> VerificationFailures { get; init; }

    public required long VerificationFailureCount { get; init; }

    /// <summary>Requests completed in each second of the measured period.</summary>
    public required IReadOnlyList<long> RequestsPerSecond { get; init; }

    /// <summary>The measured time: the duration asked for, or, when the run was interrupted, up to the stop.</summary>
    public required TimeSpan Measured { get; init; }

    /// <summary>Errors by kind: the server's errno (EIO, ENOSPC, ...) or "connection lost".</summary>
    public IReadOnlyDictionary<string, long> ErrorsByKind { get; init; } = new Dictionary<string, long>();

    /// <summary>p50 and p99 latency (µs) of each measured second; NaN for a second with no completed request.</summary>
    public IReadOnlyList<(double P50, double P99)> LatencyPerSecond { get; init; } = [];

    /// <summary>Errors as a percentage of requests sent (completed or failed).</summary>
    public double ErrorPercent => Requests + Errors == 0 ? 0 : 100.0 * Errors / (Requests + Errors);

    /// <summary>Stopped (Ctrl+C) before the measured period ended.</summary>
    public bool Interrupted { get; init; }

    public required string Server { get; init; }

    public double Iops => Measured > TimeSpan.Zero ? Requests / Measured.TotalSeconds : 0;

    public double MegabytesPerSecond => Measured > TimeSpan.Zero ? Bytes / Measured.TotalSeconds / 1e6 : 0;

    public static double[] Percentiles { get; } = [50, 90, 99, 99.9];

    public double PercentileMicroseconds(HistogramBase histogram, double percentile) =>
        histogram.TotalCount == 0 ? double.NaN : histogram.GetValueAtPercentile(percentile);
}
