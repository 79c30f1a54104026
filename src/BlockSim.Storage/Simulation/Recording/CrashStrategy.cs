using System.Globalization;

namespace BlockSim.Storage.Simulation.Recording;

public enum CrashStrategyKind
{
    /// <summary>At each crash point, every completed write survives and nothing in flight does (xfstests' replay-log semantics).</summary>
    Prefix,

    /// <summary>At each crash point, every way of losing up to N optional writes (whole), the rest surviving.</summary>
    Drop,

    /// <summary>N states at random crash points: each unflushed write survives with p = 1/2, each sector of each in-flight write too.</summary>
    Random,
}

/// <summary>How to pick crash states: <c>prefix</c>, <c>drop=N</c> or <c>random=N</c> (then with a seed).</summary>
public readonly record struct CrashStrategy(CrashStrategyKind Kind, int N = 0, long Seed = 0)
{
    public static CrashStrategy Parse(string text, long seed = 0)
    {
        var equals = text.IndexOf('=');
        var (name, value) = equals < 0 ? (text, null) : (text[..equals], text[(equals + 1)..]);
        int? n = value is not null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed > 0 ? parsed : null;
        return (name, value, n) switch
        {
            ("prefix", null, _) => new CrashStrategy(CrashStrategyKind.Prefix),
            ("drop", not null, { } count) => new CrashStrategy(CrashStrategyKind.Drop, count),
            ("random", not null, { } count) => new CrashStrategy(CrashStrategyKind.Random, count, seed),
            _ => throw new FormatException($"'{text}' is not a crash strategy: use prefix, drop=N (lose up to N optional writes) or random=N (N random states), N a positive whole number."),
        };
    }

    public override string ToString() => Kind switch
    {
        CrashStrategyKind.Prefix => "prefix",
        CrashStrategyKind.Drop => $"drop={N}",
        _ => $"random={N} seed={Seed}",
    };
}
