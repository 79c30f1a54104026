using System.Globalization;

namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// What a spinning disk's datasheet gives: spindle speed, average seek, track-to-track seek and the media's
/// sustained rate. Written "rpm=7200,seek=8.5ms,track=1ms,rate=150M" (any may be left out: these are the
/// defaults, a 7,200 RPM desktop drive's). A seek over a fraction d of the disk takes
/// track + (full - track) * sqrt(d), the usual model of an arm that accelerates, then coasts; over random
/// pairs of positions sqrt(d) averages 8/15, which is how the full stroke follows from the average seek.
/// </summary>
public sealed record HddGeometry(int Rpm, double AverageSeekSeconds, double TrackToTrackSeconds, double BytesPerSecond)
{
    /// <summary>E[sqrt(|X - Y|)] for X, Y uniform on [0, 1].</summary>
    public const double MeanSquareRootDistance = 8.0 / 15.0;

    public static HddGeometry Default { get; } = new(7_200, 8.5e-3, 1e-3, 150e6);

    public double FullStrokeSeconds => TrackToTrackSeconds + ((AverageSeekSeconds - TrackToTrackSeconds) / MeanSquareRootDistance);

    public double RotationSeconds => 60.0 / Rpm;

    /// <summary>IOPS at queue depth 1 for small random requests: 1 / (average seek + half a rotation).</summary>
    public double RandomIops => 1 / (AverageSeekSeconds + (RotationSeconds / 2));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"rpm={Rpm},seek={AverageSeekSeconds * 1e3:0.###}ms,track={TrackToTrackSeconds * 1e3:0.###}ms,rate={BytesPerSecond / 1e6:0.#}M");

    /// <exception cref="FormatException">A key or value it does not take, with what it does.</exception>
    public static HddGeometry Parse(string text)
    {
        var geometry = Default;
        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var (key, value) = equals > 0 ? (pair[..equals], pair[(equals + 1)..]) : (pair, "");
            geometry = key switch
            {
                "rpm" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var rpm) && rpm is >= 1_000 and <= 20_000 => geometry with { Rpm = rpm },
                "seek" when Milliseconds(value) is { } seek && seek is > 0 and <= 0.1 => geometry with { AverageSeekSeconds = seek },
                "track" when Milliseconds(value) is { } track && track is > 0 and <= 0.1 => geometry with { TrackToTrackSeconds = track },
                "rate" when ByteSize.TryParse(value, out var rate) && rate is >= 1_000_000 and <= 10_000_000_000 => geometry with { BytesPerSecond = rate },
                _ => throw new FormatException($"hdd {text}: {pair} is not one of rpm=1000..20000, seek=TIMEms, track=TIMEms (both over 0, at most 100ms), rate=BYTES per second (1M to 10G); e.g. rpm=7200,seek=8.5ms,track=1ms,rate=150M."),
            };
        }

        return geometry.TrackToTrackSeconds > geometry.AverageSeekSeconds
            ? throw new FormatException($"hdd {text}: the track-to-track seek is longer than the average one.")
            : geometry;
    }

    private static double? Milliseconds(string value) =>
        value.EndsWith("ms", StringComparison.Ordinal) && double.TryParse(value[..^2], NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && double.IsFinite(ms) ? ms / 1e3 : null;
}
