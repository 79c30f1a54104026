using System.Globalization;

namespace BlockSim.LoadTest;

/// <summary>One pass/fail condition on a run, as NBomber's thresholds or fio's latency targets: the limit, what the run measured, and whether it held.</summary>
public sealed record ThresholdResult(string Name, double Limit, double Actual, bool Passed)
{
    public string Describe() => Name switch
    {
        "min-iops" => string.Create(CultureInfo.InvariantCulture, $"IOPS {Actual:N0} (at least {Limit:N0}): {(Passed ? "passed" : "FAILED")}"),
        "max-errors" => string.Create(CultureInfo.InvariantCulture, $"errors {Actual:N0} (at most {Limit:N0}): {(Passed ? "passed" : "FAILED")}"),
        "max-error-rate" => string.Create(CultureInfo.InvariantCulture, $"errors {Actual:0.###}% of requests (at most {Limit:0.###}%): {(Passed ? "passed" : "FAILED")}"),
        _ => $"{Name[4..]} {MarkdownReport.Time(Actual)} (at most {MarkdownReport.Time(Limit)}): {(Passed ? "passed" : "FAILED")}",
    };
}

/// <summary>The thresholds a run is held to: latency percentiles at most, IOPS at least, errors at most; each null when not asked for.</summary>
public sealed record Thresholds(double? MaxP50Microseconds = null, double? MaxP99Microseconds = null, double? MaxP999Microseconds = null, double? MinIops = null, long? MaxErrors = null, double? MaxErrorPercent = null)
{
    /// <summary>Whether errors are judged by a threshold (then an error alone does not fail the run).</summary>
    public bool JudgesErrors => MaxErrors is not null || MaxErrorPercent is not null;

    /// <summary>
    /// Each threshold against <paramref name="result"/>. A latency threshold over a run with no completed
    /// request fails (NaN): nothing was shown to be fast enough.
    /// </summary>
    public IReadOnlyList<ThresholdResult> Evaluate(LoadResult result)
    {
        var results = new List<ThresholdResult>();
        Latency("max-p50", 50, MaxP50Microseconds);
        Latency("max-p99", 99, MaxP99Microseconds);
        Latency("max-p99.9", 99.9, MaxP999Microseconds);
        if (MinIops is { } iops)
        {
            results.Add(new("min-iops", iops, result.Iops, result.Iops >= iops));
        }

        if (MaxErrors is { } errors)
        {
            results.Add(new("max-errors", errors, result.Errors, result.Errors <= errors));
        }

        if (MaxErrorPercent is { } percent)
        {
            results.Add(new("max-error-rate", percent, result.ErrorPercent, result.ErrorPercent <= percent));
        }

        return results;

        void Latency(string name, double percentile, double? limit)
        {
            if (limit is { } at)
            {
                var actual = result.PercentileMicroseconds(result.Latency, percentile);
                results.Add(new(name, at, actual, actual <= at));
            }
        }
    }

    /// <summary>A share of requests: 0.1% or 0.1 (both a tenth of a percent), 0 to 100.</summary>
    public static bool TryParsePercent(string text, out double percent)
    {
        var trimmed = text.Trim().TrimEnd('%');
        return double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out percent) && double.IsFinite(percent) && percent is >= 0 and <= 100;
    }

    /// <summary>A time as fio and people write it: 500us, 2ms, 1.5s (µs also taken); false for anything else or not above 0.</summary>
    public static bool TryParseTime(string text, out double microseconds)
    {
        microseconds = 0;
        var trimmed = text.Trim();
        (string Suffix, double Scale)[] units = [("us", 1), ("µs", 1), ("ms", 1000), ("s", 1_000_000)];
        foreach (var (suffix, scale) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(trimmed[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                && double.IsFinite(value) && value > 0)
            {
                microseconds = value * scale;
                return true;
            }
        }

        return false;
    }
}
