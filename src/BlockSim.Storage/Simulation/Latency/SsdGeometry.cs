using System.Globalization;

namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// An SSD's shape: flash page and erase-block sizes, over-provisioning (spare flash as a fraction of the
/// capacity), the time to read a page, program one and erase a block, and the channels that work at once.
/// Written "op=7%,page=4K,block=256K,read=60us,program=200us,erase=2ms,channels=8" (any may be left out:
/// these are the defaults, a consumer drive's orders of magnitude).
/// </summary>
public sealed record SsdGeometry(double OverProvisioning, int PageBytes, int BlockBytes, double ReadSeconds, double ProgramSeconds, double EraseSeconds, int Channels)
{
    public static SsdGeometry Default { get; } = new(0.07, 4096, 256 * 1024, 60e-6, 200e-6, 2e-3, 8);

    public int PagesPerBlock => BlockBytes / PageBytes;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"op={OverProvisioning * 100:0.##}%,page={PageBytes / 1024}K,block={BlockBytes / 1024}K,read={ReadSeconds * 1e6:0.#}us,program={ProgramSeconds * 1e6:0.#}us,erase={EraseSeconds * 1e6:0.#}us,channels={Channels}");

    /// <exception cref="FormatException">A key or value it does not take, with what it does.</exception>
    public static SsdGeometry Parse(string text)
    {
        var geometry = Default;
        if (text == "default")
        {
            return geometry;
        }

        foreach (var pair in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var (key, value) = equals > 0 ? (pair[..equals], pair[(equals + 1)..]) : (pair, "");
            geometry = key switch
            {
                "op" when value.EndsWith('%') && double.TryParse(value[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var op) && op is >= 1 and <= 100 => geometry with { OverProvisioning = op / 100 },
                "page" when ByteSize.TryParse(value, out var page) && page is >= 512 and <= 65536 && (page & (page - 1)) == 0 => geometry with { PageBytes = (int)page },
                "block" when ByteSize.TryParse(value, out var block) && block is >= 4096 and <= 64L << 20 && (block & (block - 1)) == 0 => geometry with { BlockBytes = (int)block },
                "read" when Time(value) is { } read => geometry with { ReadSeconds = read },
                "program" when Time(value) is { } program => geometry with { ProgramSeconds = program },
                "erase" when Time(value) is { } erase => geometry with { EraseSeconds = erase },
                "channels" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var channels) && channels is >= 1 and <= 1024 => geometry with { Channels = channels },
                _ => throw new FormatException($"ssd {text}: {pair} is not one of op=1%..100%, page=512..64K and block=4K..64M (powers of two), read=, program= and erase= (a time in us or ms, at most 1 s), channels=1..1024; e.g. op=7%,page=4K,block=256K,read=60us,program=200us,erase=2ms,channels=8."),
            };
        }

        return geometry.BlockBytes < 2 * geometry.PageBytes
            ? throw new FormatException($"ssd {text}: an erase block holds at least two pages.")
            : geometry;
    }

    private static double? Time(string value)
    {
        foreach (var (suffix, scale) in new[] { ("us", 1e-6), ("ms", 1e-3) })
        {
            if (value.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(value[..^2], NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number is >= 0 and <= 1e6 && number * scale <= 1)
            {
                return number * scale;
            }
        }

        return null;
    }
}
