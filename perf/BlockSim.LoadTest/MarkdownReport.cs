using System.Globalization;
using System.Text;
using HdrHistogram;

namespace BlockSim.LoadTest;

/// <summary>The run as a Markdown report: scenario, throughput, latency percentiles, verification.</summary>
public static class MarkdownReport
{
    public static string Write(LoadResult result, string? plotFile, IReadOnlyList<ThresholdResult>? thresholds = null)
    {
        var o = result.Options;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Load test: {result.Server}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Scenario: {o.Describe()}. Machine: {Environment.ProcessorCount} CPUs, {Environment.OSVersion}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        text.AppendLine();
        if (result.Interrupted)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"**Interrupted** after {result.Measured.TotalSeconds:0.0} s of the {o.Duration.TotalSeconds:0.#} s asked for: every figure is over the {result.Measured.TotalSeconds:0.0} s measured.");
            text.AppendLine();
        }

        text.AppendLine("| IOPS | MB/s | requests | errors | p50 | p90 | p99 | p99.9 | max |");
        text.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| {result.Iops:N0} | {result.MegabytesPerSecond:0.0} | {result.Requests:N0} | {result.Errors:N0} | {Row(result, result.Latency)} |");
        text.AppendLine();
        if (o.ReadPercent is > 0 and < 100)
        {
            text.AppendLine("| operation | requests | p50 | p90 | p99 | p99.9 | max |");
            text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            text.AppendLine(CultureInfo.InvariantCulture, $"| read | {result.ReadLatency.TotalCount:N0} | {Row(result, result.ReadLatency)} |");
            text.AppendLine(CultureInfo.InvariantCulture, $"| write | {result.WriteLatency.TotalCount:N0} | {Row(result, result.WriteLatency)} |");
            text.AppendLine();
        }

        if (result.ErrorsByKind.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Errors: {string.Join(", ", result.ErrorsByKind.Select(e => $"{e.Value:N0} {e.Key}"))} ({result.ErrorPercent:0.###}% of requests).");
            text.AppendLine();
        }

        if (o.Verify)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Verification: {result.VerifiedReads:N0} reads of blocks written in this run checked, {result.VerificationFailureCount:N0} wrong.");
            foreach (var failure in result.VerificationFailures)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"- {failure}");
            }

            text.AppendLine();
        }

        if (thresholds is { Count: > 0 })
        {
            text.AppendLine(thresholds.All(t => t.Passed) ? "Thresholds: all passed." : "Thresholds: **FAILED**.");
            foreach (var threshold in thresholds)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"- {threshold.Describe()}");
            }

            text.AppendLine();
        }

        // One figure a second reads well for a minute; longer runs get one average per ten seconds.
        var step = result.RequestsPerSecond.Count > 60 ? 10 : 1;
        var series = result.RequestsPerSecond.Chunk(step).Select(c => (long)c.Average());
        text.AppendLine((step == 1 ? "Requests per second: " : "Requests per second, averaged over each 10 s: ")
            + string.Join(" ", series.Select(r => r.ToString("N0", CultureInfo.InvariantCulture))));
        if (plotFile is not null)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"![latency and throughput]({plotFile})");
        }

        return text.ToString();
    }

    /// <summary>Latency cells: p50, p90, p99, p99.9 and max, in µs or ms.</summary>
    private static string Row(LoadResult result, HistogramBase histogram) => string.Join(
        " | ",
        LoadResult.Percentiles.Select(p => Time(result.PercentileMicroseconds(histogram, p))).Append(Time(histogram.TotalCount == 0 ? double.NaN : histogram.GetMaxValue())));

    public static string Time(double microseconds) => double.IsNaN(microseconds)
        ? "-"
        : microseconds < 1000 ? string.Create(CultureInfo.InvariantCulture, $"{microseconds:0} µs") : string.Create(CultureInfo.InvariantCulture, $"{microseconds / 1000:0.00} ms");
}
