using System.Globalization;
using System.Net;
using System.Text;
using HdrHistogram;

namespace BlockSim.LoadTest;

/// <summary>
/// The run as one self-contained HTML page: the scenario, the figures, latency by operation, errors by kind,
/// the thresholds and the plot inline as SVG. No script, no external file: it opens anywhere, offline.
/// </summary>
public static class HtmlReport
{
    public static string Write(LoadResult result, IReadOnlyList<ThresholdResult> thresholds)
    {
        var o = result.Options;
        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
            .Append(CultureInfo.InvariantCulture, $"<title>{Encode($"blocksim-load: {result.Server}")}</title>\n")
            .Append("<style>body{font-family:sans-serif;margin:2em;max-width:960px}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}")
            .Append(".failed{color:#b00;font-weight:bold}.passed{color:#070}</style>\n</head>\n<body>\n")
            .Append(CultureInfo.InvariantCulture, $"<h1>Load test: {Encode(result.Server)}</h1>\n")
            .Append(CultureInfo.InvariantCulture, $"<p>Scenario: {Encode(o.Describe())}. Machine: {Environment.ProcessorCount} CPUs, {Encode(Environment.OSVersion.ToString())}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.</p>\n");
        if (result.Interrupted)
        {
            page.Append(CultureInfo.InvariantCulture, $"<p class=\"failed\">Interrupted after {result.Measured.TotalSeconds:0.0} s of the {o.Duration.TotalSeconds:0.#} s asked for: every figure is over the time measured.</p>\n");
        }

        Table(page, ["IOPS", "MB/s", "requests", "errors", "p50", "p90", "p99", "p99.9", "max"], [[
            result.Iops.ToString("N0", CultureInfo.InvariantCulture), result.MegabytesPerSecond.ToString("0.0", CultureInfo.InvariantCulture),
            result.Requests.ToString("N0", CultureInfo.InvariantCulture), result.Errors.ToString("N0", CultureInfo.InvariantCulture), .. Latencies(result, result.Latency)]]);
        if (o.ReadPercent is > 0 and < 100)
        {
            Table(page, ["operation", "requests", "p50", "p90", "p99", "p99.9", "max"], [
                ["read", result.ReadLatency.TotalCount.ToString("N0", CultureInfo.InvariantCulture), .. Latencies(result, result.ReadLatency)],
                ["write", result.WriteLatency.TotalCount.ToString("N0", CultureInfo.InvariantCulture), .. Latencies(result, result.WriteLatency)]]);
        }

        if (result.ErrorsByKind.Count > 0)
        {
            Table(page, ["error", "count"], [.. result.ErrorsByKind.Select(e => new[] { e.Key, e.Value.ToString("N0", CultureInfo.InvariantCulture) })]);
        }

        if (o.Verify)
        {
            page.Append(CultureInfo.InvariantCulture, $"<p>Verification: {result.VerifiedReads:N0} reads of blocks written in this run checked, {result.VerificationFailureCount:N0} wrong.</p>\n");
        }

        if (thresholds.Count > 0)
        {
            page.Append("<ul>\n");
            foreach (var threshold in thresholds)
            {
                page.Append(CultureInfo.InvariantCulture, $"<li class=\"{(threshold.Passed ? "passed" : "failed")}\">{Encode(threshold.Describe())}</li>\n");
            }

            page.Append("</ul>\n");
        }

        var svg = SvgPlot.Write(result);
        page.Append(svg[svg.IndexOf("<svg", StringComparison.Ordinal)..]).Append("</body>\n</html>\n");
        return page.ToString();
    }

    private static string[] Latencies(LoadResult result, HistogramBase histogram) =>
        [.. LoadResult.Percentiles.Select(p => MarkdownReport.Time(result.PercentileMicroseconds(histogram, p))), MarkdownReport.Time(histogram.TotalCount == 0 ? double.NaN : histogram.GetMaxValue())];

    private static void Table(StringBuilder page, string[] headers, IEnumerable<string[]> rows)
    {
        page.Append("<table>\n<tr>").Append(string.Concat(headers.Select(h => $"<th>{Encode(h)}</th>"))).Append("</tr>\n");
        foreach (var row in rows)
        {
            page.Append("<tr>").Append(string.Concat(row.Select(c => $"<td>{Encode(c)}</td>"))).Append("</tr>\n");
        }

        page.Append("</table>\n");
    }

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
