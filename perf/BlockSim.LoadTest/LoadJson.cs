using System.Text.Json;
using System.Text.Json.Serialization;
using HdrHistogram;

namespace BlockSim.LoadTest;

/// <summary>The run for scripts (--json FILE): the scenario, the figures, latency percentiles in microseconds, the thresholds; camelCase, as blocksim's --json.</summary>
public sealed record LoadSummary(
    string Server,
    string Scenario,
    double MeasuredSeconds,
    bool Interrupted,
    long Requests,
    long Bytes,
    long Errors,
    double ErrorPercent,
    IReadOnlyDictionary<string, long> ErrorsByKind,
    double Iops,
    double MegabytesPerSecond,
    LatencySummary Latency,
    LatencySummary? ReadLatency,
    LatencySummary? WriteLatency,
    IReadOnlyList<long> RequestsPerSecond,
    IReadOnlyList<SecondLatency> LatencyPerSecond,
    long VerifiedReads,
    long VerificationFailures,
    IReadOnlyList<ThresholdResult> Thresholds,
    bool Passed)
{
    public static LoadSummary Of(LoadResult result, IReadOnlyList<ThresholdResult> thresholds)
    {
        var mixed = result.Options.ReadPercent is > 0 and < 100;
        return new(
            result.Server,
            result.Options.Describe(),
            result.Measured.TotalSeconds,
            result.Interrupted,
            result.Requests,
            result.Bytes,
            result.Errors,
            result.ErrorPercent,
            result.ErrorsByKind,
            result.Iops,
            result.MegabytesPerSecond,
            LatencySummary.Of(result, result.Latency),
            mixed ? LatencySummary.Of(result, result.ReadLatency) : null,
            mixed ? LatencySummary.Of(result, result.WriteLatency) : null,
            result.RequestsPerSecond,
            [.. result.LatencyPerSecond.Select(l => new SecondLatency(double.IsNaN(l.P50) ? null : l.P50, double.IsNaN(l.P99) ? null : l.P99))],
            result.VerifiedReads,
            result.VerificationFailureCount,
            thresholds,
            thresholds.All(t => t.Passed));
    }

    public string ToJson() => JsonSerializer.Serialize(this, LoadJson.Output.LoadSummary);
}

/// <summary>One measured second's p50 and p99 in microseconds; null when no request completed in it.</summary>
public sealed record SecondLatency(double? P50, double? P99);

/// <summary>Percentiles in microseconds; null where no request completed.</summary>
public sealed record LatencySummary(long Count, double? P50, double? P90, double? P99, double? P999, double? Max)
{
    public static LatencySummary Of(LoadResult result, HistogramBase histogram)
    {
        double? At(double p) => histogram.TotalCount == 0 ? null : result.PercentileMicroseconds(histogram, p);
        return new(histogram.TotalCount, At(50), At(90), At(99), At(99.9), histogram.TotalCount == 0 ? null : histogram.GetMaxValue());
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(LoadSummary))]
internal sealed partial class LoadJson : JsonSerializerContext
{
    // '+' in a URI written as itself, not \u002B: the file is read by scripts and people, never put into HTML.
    // Made at first use: a static initializer here would run before the generated part's, while Default is null.
    public static LoadJson Output => s_output ??= new(new JsonSerializerOptions(Default.Options) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private static LoadJson? s_output;
}
