using System.Globalization;

namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// How long a device takes to serve one request, as a distribution to draw from: its inverse CDF, so a
/// uniform draw becomes a time. Written as text, so it fits a flag and a configuration value alike (times
/// in ns, us, ms or s):
/// <code>
/// fixed:200us
/// uniform:100us-300us
/// lognormal:p50=1ms,p99=5ms                      (the median and the 99th percentile fix it)
/// pareto:min=100us,alpha=2.5                     (a heavy tail: P(X &gt; x) = (min / x)^alpha)
/// table:p50=120us,p90=300us,p99=2ms,p99.9=8ms    (an empirical one, linear between its percentiles)
/// </code>
/// </summary>
public sealed class LatencyDistribution
{
    /// <summary>The standard normal's 99th percentile, which ties a lognormal's p99 to its sigma.</summary>
    private const double Z99 = 2.326347874;

    private const string Forms = "fixed:200us, uniform:100us-300us, lognormal:p50=1ms,p99=5ms, pareto:min=100us,alpha=2.5 or table:p50=120us,p90=300us,p99=2ms";

    private readonly Func<double, double> _secondsAt;

    private LatencyDistribution(string text, Func<double, double> secondsAt)
    {
        Text = text;
        _secondsAt = secondsAt;
    }

    /// <summary>The text it was parsed from.</summary>
    public string Text { get; }

    /// <summary>The time at quantile <paramref name="q"/> (0 to 1).</summary>
    public TimeSpan Quantile(double q) => TimeSpan.FromSeconds(Math.Max(0, _secondsAt(Math.Clamp(q, 0, 1))));

    public TimeSpan Sample(Random random) => Quantile(random.NextDouble());

    public override string ToString() => Text;

    /// <exception cref="FormatException">Not one of the forms above; the message gives each.</exception>
    public static LatencyDistribution Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? text : text[..colon];
        var body = colon < 0 ? "" : text[(colon + 1)..];
        return kind switch
        {
            "fixed" => Fixed(text, Seconds(body, text)),
            "uniform" => Uniform(text, body),
            "lognormal" => Lognormal(text, Pairs(text, body)),
            "pareto" => Pareto(text, Pairs(text, body)),
            "table" => Table(text, Pairs(text, body)),
            _ => throw Problem(text, "no such distribution"),
        };
    }

    private static LatencyDistribution Fixed(string text, double seconds) => new(text, _ => seconds);

    private static LatencyDistribution Uniform(string text, string body)
    {
        var dash = body.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            throw Problem(text, "uniform takes LOW-HIGH");
        }

        var (low, high) = (Seconds(body[..dash], text), Seconds(body[(dash + 1)..], text));
        return high < low ? throw Problem(text, "the high end is below the low one") : new(text, q => low + ((high - low) * q));
    }

    private static LatencyDistribution Lognormal(string text, Dictionary<string, double> pairs)
    {
        var (p50, p99) = (Need(pairs, "p50", text), Need(pairs, "p99", text));
        if (p50 <= 0 || p99 < p50)
        {
            throw Problem(text, "a lognormal needs 0 < p50 <= p99");
        }

        var mu = Math.Log(p50);
        var sigma = (Math.Log(p99) - mu) / Z99;
        return new(text, q => Math.Exp(mu + (sigma * StandardNormalQuantile(q))));
    }

    private static LatencyDistribution Pareto(string text, Dictionary<string, double> pairs)
    {
        var (min, alpha) = (Need(pairs, "min", text), Need(pairs, "alpha", text, isTime: false));
        if (min <= 0 || alpha <= 0)
        {
            throw Problem(text, "a Pareto needs min > 0 and alpha > 0");
        }

        // At most a minute: the tail is unbounded, and one draw of hours would stall a test for good.
        return new(text, q => Math.Min(60, min / Math.Pow(1 - Math.Min(q, 1 - 1e-12), 1 / alpha)));
    }

    private static LatencyDistribution Table(string text, Dictionary<string, double> pairs)
    {
        var points = new List<(double Q, double Seconds)>();
        foreach (var (key, seconds) in pairs)
        {
            if (key.Length < 2 || key[0] != 'p' || !double.TryParse(key[1..], NumberStyles.Float, CultureInfo.InvariantCulture, out var percentile) || percentile is <= 0 or >= 100)
            {
                throw Problem(text, $"{key} is not a percentile such as p50 or p99.9");
            }

            points.Add((percentile / 100, seconds));
        }

        points.Sort((a, b) => a.Q.CompareTo(b.Q));
        if (points.Count == 0 || points.Zip(points.Skip(1)).Any(p => p.Second.Seconds < p.First.Seconds))
        {
            throw Problem(text, "a table needs percentiles whose times do not go down");
        }

        // Below the first percentile its time, above the last its time: no guess past what was measured.
        return new(text, q =>
        {
            var at = points.FindIndex(p => p.Q >= q);
            if (at <= 0)
            {
                return at == 0 ? points[0].Seconds : points[^1].Seconds;
            }

            var (a, b) = (points[at - 1], points[at]);
            return a.Seconds + ((b.Seconds - a.Seconds) * (q - a.Q) / (b.Q - a.Q));
        });
    }

    private static Dictionary<string, double> Pairs(string text, string body)
    {
        var pairs = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var pair in body.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw Problem(text, $"{pair} is not NAME=VALUE");
            }

            var name = pair[..equals];
            pairs[name] = name == "alpha" ? Number(pair[(equals + 1)..], text) : Seconds(pair[(equals + 1)..], text);
        }

        return pairs;
    }

    private static double Need(Dictionary<string, double> pairs, string name, string text, bool isTime = true) =>
        pairs.TryGetValue(name, out var value) ? value : throw Problem(text, $"it needs {name}{(isTime ? "=TIME" : "=NUMBER")}");

    /// <summary>"250us" in seconds.</summary>
    private static double Seconds(string value, string text)
    {
        value = value.Trim();
        foreach (var (suffix, scale) in new[] { ("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3), ("s", 1.0) })
        {
            if (value.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(value[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                && double.IsFinite(number) && number is >= 0 and <= 3600 / 1e-9 && number * scale <= 3600)
            {
                return number * scale;
            }
        }

        throw Problem(text, $"{value} is not a time from 0 to 3600s with its unit (ns, us, ms or s)");
    }

    private static double Number(string value, string text) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
            ? number
            : throw Problem(text, $"{value} is not a number");

    private static FormatException Problem(string text, string why) => new($"latency {text}: {why}; give {Forms}.");

    /// <summary>The standard normal's inverse CDF (Acklam's rational approximation, relative error under 1.2e-9).</summary>
    private static double StandardNormalQuantile(double p)
    {
        if (p <= 0)
        {
            return -8;
        }

        if (p >= 1)
        {
            return 8;
        }

        double[] a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716, 2.506628277459239];
        double[] b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
        double[] c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
        double[] d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
        const double Low = 0.02425;
        if (p < Low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            return (((((((c[0] * q) + c[1]) * q) + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((((d[0] * q) + d[1]) * q) + d[2]) * q + d[3]) * q + 1);
        }

        if (p > 1 - Low)
        {
            var q = Math.Sqrt(-2 * Math.Log(1 - p));
            return -(((((((c[0] * q) + c[1]) * q) + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((((d[0] * q) + d[1]) * q) + d[2]) * q + d[3]) * q + 1);
        }

        var r = p - 0.5;
        var s = r * r;
        return (((((((a[0] * s) + a[1]) * s) + a[2]) * s + a[3]) * s + a[4]) * s + a[5]) * r / (((((((b[0] * s) + b[1]) * s) + b[2]) * s + b[3]) * s + b[4]) * s + 1);
    }
}
