using System.Globalization;

namespace BlockSim.LoadTest;

/// <summary>One phase of a load shape: the request rate goes from <paramref name="FromRate"/> to <paramref name="ToRate"/> (per second, linearly) over <paramref name="Duration"/>.</summary>
public sealed record LoadPhase(double FromRate, double ToRate, TimeSpan Duration)
{
    /// <summary>Requests due over the whole phase: the area under the rate.</summary>
    public double Requests => (FromRate + ToRate) / 2 * Duration.TotalSeconds;

    public override string ToString() => FromRate == ToRate
        ? string.Create(CultureInfo.InvariantCulture, $"hold {FromRate:0.##}/s for {Duration.TotalSeconds:0.##} s")
        : string.Create(CultureInfo.InvariantCulture, $"ramp {FromRate:0.##} to {ToRate:0.##}/s over {Duration.TotalSeconds:0.##} s");
}

/// <summary>
/// Injection at a rate that changes over the run, as NBomber's load simulations: phases such as
/// <c>ramp:0-50000/s:30s,hold:50000/s:60s,pause:5s</c>. Open loop: the k-th request is due when the rate's
/// integral reaches k, whatever the server's answers, and its latency counts from then (no coordinated
/// omission); requests in flight are capped by the slots (queue depth times connections).
/// </summary>
public sealed class LoadShape
{
    private readonly LoadPhase[] _phases;

    public LoadShape(IEnumerable<LoadPhase> phases)
    {
        _phases = [.. phases];
        if (_phases.Length == 0)
        {
            throw new ArgumentException("A load shape needs at least one phase.");
        }
    }

    public IReadOnlyList<LoadPhase> Phases => _phases;

    public TimeSpan Duration => TimeSpan.FromTicks(_phases.Sum(p => p.Duration.Ticks));

    public override string ToString() => string.Join(", then ", _phases.Select(p => p.ToString()));

    /// <summary>When request <paramref name="k"/> (from 0) is due, from the start of the run; null when the shape ends first.</summary>
    public TimeSpan? DueTime(long k)
    {
        var start = TimeSpan.Zero;
        double before = 0;
        foreach (var phase in _phases)
        {
            if (k < before + phase.Requests)
            {
                return start + TimeSpan.FromSeconds(Within(phase, k - before));
            }

            before += phase.Requests;
            start += phase.Duration;
        }

        return null;
    }

    /// <summary>The time t into the phase at which r0 t + (r1 - r0) t^2 / (2 D) reaches <paramref name="count"/>.</summary>
    private static double Within(LoadPhase phase, double count)
    {
        var seconds = phase.Duration.TotalSeconds;
        var slope = (phase.ToRate - phase.FromRate) / seconds;
        if (Math.Abs(slope) < 1e-12)
        {
            return count / phase.FromRate;
        }

        // slope/2 t^2 + r0 t - count = 0; the root in [0, D] (the integral rises through the phase).
        var root = (-phase.FromRate + Math.Sqrt(phase.FromRate * phase.FromRate + 2 * slope * count)) / slope;
        return Math.Clamp(root, 0, seconds);
    }

    /// <summary>Parses phases: <c>ramp:FROM-TO/s:DURATION</c>, <c>hold:RATE/s:DURATION</c>, <c>pause:DURATION</c>, comma-separated; durations in s, ms or m.</summary>
    public static LoadShape Parse(string text)
    {
        var phases = new List<LoadPhase>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = part.Split(':');
            phases.Add(fields switch
            {
                ["ramp", var rates, var duration] when rates.Split('-') is [var from, var to] => new LoadPhase(Rate(from, part), Rate(to, part), Time(duration, part)),
                ["hold", var rate, var duration] => new LoadPhase(Rate(rate, part), Rate(rate, part), Time(duration, part)),
                ["pause", var duration] => new LoadPhase(0, 0, Time(duration, part)),
                _ => throw new FormatException($"'{part}': give ramp:FROM-TO/s:DURATION, hold:RATE/s:DURATION or pause:DURATION, e.g. ramp:0-5000/s:30s,hold:5000/s:60s."),
            });
        }

        return new LoadShape(phases);
    }

    private static double Rate(string text, string part)
    {
        var number = text.EndsWith("/s", StringComparison.Ordinal) ? text[..^2] : text;
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && double.IsFinite(rate) && rate is >= 0 and <= 10_000_000
            ? rate
            : throw new FormatException($"'{part}': a rate is requests per second, 0 to 10000000, e.g. 5000/s.");
    }

    private static TimeSpan Time(string text, string part)
    {
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60)];
        foreach (var (suffix, scale) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                && double.IsFinite(value) && value > 0 && value * scale <= 86_400)
            {
                return TimeSpan.FromSeconds(value * scale);
            }
        }

        throw new FormatException($"'{part}': a duration is above 0 and at most a day, in ms, s or m, e.g. 30s.");
    }
}
