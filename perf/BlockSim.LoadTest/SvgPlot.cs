using System.Globalization;
using System.Text;

namespace BlockSim.LoadTest;

/// <summary>
/// Two panels in one SVG: throughput over the measured seconds, and latency by percentile on the usual
/// "nines" axis (50, 90, 99, 99.9, 99.99 equally spaced), where tail latency shows.
/// </summary>
public static class SvgPlot
{
    private const int Width = 900;
    private const int PanelHeight = 260;
    private const int Left = 80;
    private const int Right = 20;
    private const int Top = 40;

    public static string Write(LoadResult result)
    {
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{2 * PanelHeight + 2 * Top}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");

        var perSecond = result.RequestsPerSecond.Select(r => (double)r).ToArray();
        Panel(svg, 0, $"IOPS per second ({result.Options.Describe()})", perSecond.Select((v, i) => (X: (double)i + 1, Y: v)).ToArray(), Math.Max(1, perSecond.Length), x => $"{x:0} s", y => $"{y:N0}");

        var points = new List<(double X, double Y)>();
        if (result.Latency.TotalCount > 0)
        {
            for (var nines = 0.0; nines <= 5.0; nines += 0.05)
            {
                var percentile = 100 * (1 - Math.Pow(10, -nines));
                points.Add((nines, result.Latency.GetValueAtPercentile(Math.Min(percentile, 99.9999)) / 1000.0));
            }
        }

        Panel(svg, PanelHeight + Top, "latency (ms) by percentile", points.ToArray(), 5, x => $"{100 * (1 - Math.Pow(10, -x)):0.###}%", y => $"{y:0.###}");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void Panel(StringBuilder svg, int offset, string title, (double X, double Y)[] points, double maxX, Func<double, string> xLabel, Func<double, string> yLabel)
    {
        var top = offset + Top;
        var height = PanelHeight - 40;
        var width = Width - Left - Right;
        var maxY = points.Length == 0 ? 1 : Math.Max(points.Max(p => p.Y) * 1.1, 1e-3);
        var minX = points.Length == 0 ? 0 : points.Min(p => p.X);
        var spanX = Math.Max(maxX - minX, 1e-9);
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{top - 12}\" font-weight=\"bold\">{Escape(title)}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{top}\" width=\"{width}\" height=\"{height}\" fill=\"none\" stroke=\"#888\"/>\n");
        for (var i = 0; i <= 4; i++)
        {
            var y = top + height - height * i / 4.0;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Left + width}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" stroke=\"#eee\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{Escape(yLabel(maxY * i / 4))}</text>\n");
            var x = Left + width * i / 4.0;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:0.#}\" y=\"{top + height + 16}\" text-anchor=\"middle\">{Escape(xLabel(minX + spanX * i / 4))}</text>\n");
        }

        if (points.Length > 0)
        {
            var path = string.Join(" ", points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{Left + width * (p.X - minX) / spanX:0.#},{top + height - height * p.Y / maxY:0.#}")));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{path}\"/>\n");
        }
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
