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

    public required TimeSpan Measured { get; init; }

    public required string Server { get; init; }

    public double Iops => Requests / Measured.TotalSeconds;

    public double MegabytesPerSecond => Bytes / Measured.TotalSeconds / 1e6;

    public static double[] Percentiles { get; } = [50, 90, 99, 99.9];

    public double PercentileMicroseconds(HistogramBase histogram, double percentile) =>
        histogram.TotalCount == 0 ? double.NaN : histogram.GetValueAtPercentile(percentile);
}
