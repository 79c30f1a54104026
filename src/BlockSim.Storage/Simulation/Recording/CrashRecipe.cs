using System.Globalization;
using System.Text;

namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// Everything needed to rebuild one crash state from its log and base image: the crash point, the optional
/// writes dropped, and the writes torn and how. Every optional write not named survives whole. The seed only
/// says where a random recipe came from; the lists are the recipe. Its text form is short and shell-safe,
/// <c>at=120/seed=7/drop=3,5,9/torn=12:0-2+7,14:1</c>, for <c>crash replay RECIPE</c>.
/// </summary>
public sealed class CrashRecipe : IEquatable<CrashRecipe>
{
    private readonly long[] _dropped;
    private readonly TornWrite[] _torn;

    public CrashRecipe(int crashPoint, IEnumerable<long>? dropped = null, IEnumerable<TornWrite>? torn = null, long seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(crashPoint);
        CrashPoint = crashPoint;
        Seed = seed;
        _dropped = [.. new SortedSet<long>(dropped ?? [])];
        var tornList = (torn ?? []).OrderBy(t => t.Id).ToArray();
        for (var i = 0; i < tornList.Length; i++)
        {
            if ((i > 0 && tornList[i - 1].Id == tornList[i].Id) || Array.BinarySearch(_dropped, tornList[i].Id) >= 0)
            {
                throw new ArgumentException($"Write {tornList[i].Id} is named twice in the recipe (torn twice, or torn and dropped).", nameof(torn));
            }
        }

        _torn = tornList;
    }

    /// <summary>The crash happens after this many records of the log.</summary>
    public int CrashPoint { get; }

    public long Seed { get; }

    /// <summary>Ids of the optional writes that do not survive, ascending.</summary>
    public IReadOnlyList<long> Dropped => _dropped;

    /// <summary>Optional writes that survive in part, by id.</summary>
    public IReadOnlyList<TornWrite> Torn => _torn;

    public CrashRecipe WithDropped(IEnumerable<long> dropped) => new(CrashPoint, dropped, Torn, Seed);

    public CrashRecipe WithTorn(IEnumerable<TornWrite> torn) => new(CrashPoint, Dropped, torn, Seed);

    /// <summary>Whether write <paramref name="id"/> is dropped whole.</summary>
    public bool Drops(long id) => Array.BinarySearch(_dropped, id) >= 0;

    public bool Equals(CrashRecipe? other) =>
        other is not null && other.CrashPoint == CrashPoint && other.Seed == Seed
        && other._dropped.AsSpan().SequenceEqual(_dropped) && other._torn.AsSpan().SequenceEqual(_torn);

    public override bool Equals(object? obj) => Equals(obj as CrashRecipe);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(CrashPoint);
        hash.Add(Seed);
        foreach (var id in Dropped)
        {
            hash.Add(id);
        }

        foreach (var torn in Torn)
        {
            hash.Add(torn);
        }

        return hash.ToHashCode();
    }

    public override string ToString()
    {
        var text = new StringBuilder("at=").Append(CrashPoint);
        if (Seed != 0)
        {
            text.Append("/seed=").Append(Seed);
        }

        if (Dropped.Count > 0)
        {
            text.Append("/drop=").AppendJoin(',', Dropped);
        }

        if (Torn.Count > 0)
        {
            text.Append("/torn=").AppendJoin(',', Torn);
        }

        return text.ToString();
    }

    /// <summary>Reads the text form; a <see cref="FormatException"/> says what is wrong with it.</summary>
    public static CrashRecipe Parse(string text)
    {
        try
        {
            return ParseParts(text);
        }
        catch (Exception problem) when (problem is ArgumentException or OverflowException)
        {
            throw Bad(text, problem.Message.TrimEnd('.'));
        }
    }

    private static CrashRecipe ParseParts(string text)
    {
        int? at = null;
        long seed = 0;
        List<long> dropped = [];
        List<TornWrite> torn = [];
        foreach (var part in text.Split('/'))
        {
            var equals = part.IndexOf('=');
            var (key, value) = equals < 0 ? (part, "") : (part[..equals], part[(equals + 1)..]);
            switch (key)
            {
                case "at" when at is null:
                    at = checked((int)Number(value, text));
                    break;
                case "seed":
                    seed = Number(value, text);
                    break;
                case "drop":
                    dropped.AddRange(value.Split(',').Select(id => Number(id, text)));
                    break;
                case "torn":
                    foreach (var entry in value.Split(','))
                    {
                        var colon = entry.IndexOf(':');
                        if (colon < 0)
                        {
                            throw Bad(text, $"the torn write '{entry}' has no ':' before its lost sectors");
                        }

                        torn.Add(new TornWrite(Number(entry[..colon], text), Sectors(entry[(colon + 1)..], text)));
                    }

                    break;
                default:
                    throw Bad(text, $"'{part}' is not one of at=, seed=, drop=, torn= (at= once)");
            }
        }

        if (at is not { } crashPoint || crashPoint < 0)
        {
            throw Bad(text, "no crash point at=N (N >= 0)");
        }

        return new CrashRecipe(crashPoint, dropped, torn, seed);
    }

    private static IEnumerable<int> Sectors(string ranges, string text)
    {
        foreach (var range in ranges.Split('+'))
        {
            var dash = range.IndexOf('-', 1);
            var first = checked((int)Number(dash < 0 ? range : range[..dash], text));
            var last = dash < 0 ? first : checked((int)Number(range[(dash + 1)..], text));
            if (last < first || last - first > 1 << 24)
            {
                throw Bad(text, $"the sector range '{range}' is backwards or too long");
            }

            for (var sector = first; sector <= last; sector++)
            {
                yield return sector;
            }
        }
    }

    private static long Number(string value, string text) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw Bad(text, $"'{value}' where a number goes");

    private static FormatException Bad(string text, string problem) =>
        new($"'{text}' is not a crash recipe: {problem}. A recipe looks like at=120/seed=7/drop=3,5/torn=12:0-2+7 (crash after record 120, writes 3 and 5 lost, write 12 without its sectors 0, 1, 2 and 7).");
}
