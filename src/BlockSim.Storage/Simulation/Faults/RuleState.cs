namespace BlockSim.Storage.Simulation.Faults;

/// <summary>A rule and what it has counted since it was added: hits, injections, each sector's accesses, healed latent sectors.</summary>
internal sealed class RuleState(FaultRule rule)
{
    // Bounded so that a rule over a whole large disk cannot grow without end; past it, a sector's count is
    // taken as its first access (still reproducible for the same workload, and documented).
    private const int MaxCountedSectors = 1 << 20;
    private readonly Dictionary<(long Sector, FaultOperations Operation), long> _accesses = [];
    private readonly HashSet<long> _healed = [];

    public FaultRule Rule { get; } = rule;

    public long Hits { get; private set; }

    public long Injected { get; private set; }

    public bool Overlaps(long first, long last) => first <= Rule.LastSector && last >= Rule.FirstSector;

    /// <summary>A write over latent sectors rewrites them: they read again.</summary>
    public void Heal(long first, long last)
    {
        for (var sector = Math.Max(first, Rule.FirstSector); sector <= Math.Min(last, Rule.LastSector) && _healed.Count < MaxCountedSectors; sector++)
        {
            _healed.Add(sector);
        }
    }

    /// <summary>The first sector of [first, last] this rule still fails, or null (for a latent rule: one not yet rewritten).</summary>
    public long? Target(long first, long last)
    {
        var from = Math.Max(first, Rule.FirstSector);
        var to = Math.Min(last, Rule.LastSector);
        if (Rule.Kind != FaultKind.Latent)
        {
            return from;
        }

        for (var sector = from; sector <= to; sector++)
        {
            if (!_healed.Contains(sector))
            {
                return sector;
            }
        }

        return null;
    }

    /// <summary>Counts the hit and decides it with the seeded dice; true when the fault is to be injected.</summary>
    public bool Decide(long seed, FaultOperations operation, long sector, out long access)
    {
        Hits++;
        var key = (sector, operation);
        _accesses.TryGetValue(key, out access);
        if (_accesses.Count < MaxCountedSectors || _accesses.ContainsKey(key))
        {
            _accesses[key] = access + 1;
        }

        if ((Rule.Nth is { } nth && Hits != nth) || (Rule.Count is { } count && Injected >= count))
        {
            return false;
        }

        if (Rule.Probability < 1 && FaultDice.Roll(seed, Rule.Id, operation, sector, access) >= Rule.Probability)
        {
            return false;
        }

        Injected++;
        return true;
    }
}
