using System.Globalization;
using System.Text;
using HdrHistogram;

namespace BlockSim.LoadTest;

/// <summary>
/// Three panels in one SVG: throughput over the measured seconds, p50 and p99 latency over them, and latency by percentile on the usual
/// "nines" axis (50%, 90%, 99%, 99.9%, ... equally spaced), where tail latency shows; reads and writes as
/// series of their own, with a legend, when the run mixes them. Ticks are round numbers placed where their
/// value is, and the scenario is wrapped under the title rather than cut off.
/// </summary>
public static class SvgPlot
{
    private const int Width = 900;
    private const int Left = 80;
    private const int Right = 150; // room for the legend
    private const int PanelHeight = 220;
    private const int PanelGap = 70;
    private const int WrapAt = 105; // at about 7 px a character, inside the 900 px canvas from the left margin

    private static readonly string[] s_colours = ["#1f77b4", "#d62728", "#2ca02c"];

    public static string Write(LoadResult result)
    {
        var subtitle = Wrap(result.Options.Describe() + (result.Interrupted ? $"; interrupted after {result.Measured.TotalSeconds:0.0} s measured" : ""), WrapAt);
        var top = 36 + 16 * subtitle.Count + 30;
        var height = top + 3 * PanelHeight + 2 * PanelGap + 40;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"24\" font-weight=\"bold\" font-size=\"15\">{Escape($"blocksim-load: {result.Server}")}</text>\n");
        for (var i = 0; i < subtitle.Count; i++)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{44 + 16 * i}\" fill=\"#444\">{Escape(subtitle[i])}</text>\n");
        }

        var perSecond = result.RequestsPerSecond.Select((v, i) => (X: i + 1.0, Y: (double)v)).ToArray();
        Panel(svg, top, "requests per second", "s", [("all", perSecond)], [.. Ticks(0, Math.Max(1, perSecond.Length)).Where(t => t <= Math.Max(1, perSecond.Length))], t => string.Create(CultureInfo.InvariantCulture, $"{t:0}"), 0, Math.Max(1, perSecond.Length));

        var seconds = Math.Max(1, result.LatencyPerSecond.Count);
        var overTime = new[]
        {
            ("p50", result.LatencyPerSecond.Select((l, i) => (X: i + 1.0, Y: l.P50 / 1000)).Where(p => !double.IsNaN(p.Y)).ToArray()),
            ("p99", result.LatencyPerSecond.Select((l, i) => (X: i + 1.0, Y: l.P99 / 1000)).Where(p => !double.IsNaN(p.Y)).ToArray()),
        };
        Panel(svg, top + PanelHeight + PanelGap, "latency (ms) over time", "s", overTime, [.. Ticks(0, seconds).Where(t => t <= seconds)], t => string.Create(CultureInfo.InvariantCulture, $"{t:0}"), 0, seconds);

        var mixed = result.Options.ReadPercent is > 0 and < 100;
        var series = mixed
            ? new[] { ("reads", result.ReadLatency), ("writes", result.WriteLatency), ("all", result.Latency) }
            : [(result.Options.ReadPercent == 0 ? "writes" : "reads", result.Latency)];
        var maxNines = Math.Max(1, Math.Min(5, Math.Log10(Math.Max(10, result.Latency.TotalCount)))); // past 1 - 1/N a percentile is one sample
        var curves = series.Select(s => (s.Item1, Curve(s.Item2, maxNines))).ToArray();
        double[] percentileTicks = [50, 90, 99, 99.9, 99.99, 99.999];
        Panel(
            svg,
            top + 2 * (PanelHeight + PanelGap),
            "latency (ms) by percentile",
            "",
            curves,
            [.. percentileTicks.Select(Nines).Where(n => n <= maxNines + 1e-9)],
            n => string.Create(CultureInfo.InvariantCulture, $"{100 * (1 - Math.Pow(10, -n)):0.###}%"),
            0,
            maxNines);
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>Where percentile <paramref name="p"/> sits on the nines axis: 90% is 1, 99% is 2.</summary>
    private static double Nines(double p) => -Math.Log10(1 - p / 100);

    private static (double X, double Y)[] Curve(HistogramBase histogram, double maxNines)
    {
        var points = new List<(double X, double Y)>();
        if (histogram.TotalCount == 0)
        {
            return [];
        }

        for (var nines = 0.0; nines <= maxNines + 1e-9; nines += 0.05)
        {
            points.Add((nines, histogram.GetValueAtPercentile(Math.Min(100 * (1 - Math.Pow(10, -nines)), 99.9999)) / 1000.0));
        }

        return [.. points];
    }

    private static void Panel(StringBuilder svg, int top, string title, string xUnit, (string Name, (double X, double Y)[] Points)[] series, double[] xTicks, Func<double, string> xLabel, double minX, double maxX)
    {
        var height = PanelHeight - 40;
        var width = Width - Left - Right;
        var all = series.SelectMany(s => s.Points).ToArray();
        var yTicks = Ticks(0, all.Length == 0 ? 1 : Math.Max(all.Max(p => p.Y), 1e-3));
        var maxY = yTicks[^1];
        var spanX = Math.Max(maxX - minX, 1e-9);
        var decimals = Decimals(yTicks.Length > 1 ? yTicks[1] - yTicks[0] : 1);
        double X(double x) => Left + width * (x - minX) / spanX;
        double Y(double y) => top + height - height * y / maxY;

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{top - 10}\" font-weight=\"bold\">{Escape(title)}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{top}\" width=\"{width}\" height=\"{height}\" fill=\"none\" stroke=\"#888\"/>\n");
        foreach (var tick in yTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Left + width}\" y1=\"{Y(tick):0.#}\" y2=\"{Y(tick):0.#}\" stroke=\"#eee\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{Y(tick) + 4:0.#}\" text-anchor=\"end\">{tick.ToString($"N{decimals}", CultureInfo.InvariantCulture)}</text>\n");
        }

        foreach (var tick in xTicks)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{X(tick):0.#}\" x2=\"{X(tick):0.#}\" y1=\"{top + height}\" y2=\"{top + height + 4}\" stroke=\"#888\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(tick):0.#}\" y=\"{top + height + 18}\" text-anchor=\"middle\">{Escape(xLabel(tick))}</text>\n");
        }

        if (xUnit.Length > 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + width}\" y=\"{top + height + 34}\" text-anchor=\"end\">{Escape(xUnit)}</text>\n");
        }

        for (var i = 0; i < series.Length; i++)
        {
            var (name, points) = series[i];
            var colour = s_colours[i % s_colours.Length];
            if (points.Length > 0)
            {
                var path = string.Join(" ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{X(p.X):0.#},{Y(p.Y):0.#}")));
                svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{path}\"/>\n");
            }

            var legendY = top + 14 + 18 * i;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left + width + 12}\" x2=\"{Left + width + 36}\" y1=\"{legendY - 4}\" y2=\"{legendY - 4}\" stroke=\"{colour}\" stroke-width=\"2\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + width + 42}\" y=\"{legendY}\">{Escape(name)}</text>\n");
        }
    }

    /// <summary>Round tick values from <paramref name="min"/> to at least <paramref name="max"/>: steps of 1, 2 or 5 times a power of ten, about five of them.</summary>
    public static double[] Ticks(double min, double max)
    {
        var rough = Math.Max((max - min) / 5, 1e-9);
        var power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        var step = new[] { 1.0, 2, 5, 10 }.Select(m => m * power).First(s => s >= rough);
        var ticks = new List<double>();
        for (var k = Math.Floor(min / step); k * step < max + step - 1e-9 * step; k++)
        {
            ticks.Add(Math.Round(k * step, 10)); // 0.3, not 0.30000000000000004
        }

        return [.. ticks];
    }

    /// <summary>Decimals a tick label needs for <paramref name="step"/>: 0 for 1 or more, 1 for 0.5, 2 for 0.02.</summary>
    private static int Decimals(double step) => step >= 1 ? 0 : (int)Math.Ceiling(-Math.Log10(step) - 1e-9);

    private static List<string> Wrap(string text, int width)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        foreach (var word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }

            line.Append(line.Length > 0 ? " " : "").Append(word);
        }

        lines.Add(line.ToString());
        return lines;
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
