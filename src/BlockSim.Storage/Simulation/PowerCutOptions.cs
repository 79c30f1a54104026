namespace BlockSim.Storage.Simulation;

/// <summary>How finely a power cut tears what was written since the last flush.</summary>
public enum PowerCutTearing
{
    /// <summary>Each write survives whole or not at all.</summary>
    None,

    /// <summary>Each sector of each write survives or not on its own.</summary>
    Sector,

    /// <summary>Each 4 KiB-aligned piece of each write survives or not on its own (a 4Kn drive, a flash page).</summary>
    Block4K,
}

/// <summary>
/// What survives a power cut: every piece (by <see cref="Tearing"/>) of every write since the last flush
/// survives with <see cref="Survival"/>, decided by dice seeded with <see cref="Seed"/>; each sector then
/// holds the newest surviving version written to it, or what was durable before. That is a state the disk
/// could really be left in, whatever order it destaged its cache in.
/// </summary>
public sealed record PowerCutOptions(double Survival = 0, PowerCutTearing Tearing = PowerCutTearing.Sector, long Seed = 0);

/// <summary>What a power cut did: sectors that lost every unflushed version, sectors left with one, and multi-piece writes that survived only in part.</summary>
public readonly record struct PowerCutResult(int LostSectors, int SurvivingSectors, int TornWrites);
