namespace BlockSim.KeyStore.Audit;

/// <summary>How much the audit log writes, and in how large files.</summary>
public sealed record AuditOptions
{
    /// <summary>
    /// A Decrypt identical to one recorded less than this long ago (same principal, service, client,
    /// address, key, key version, encryption context and outcome) is not written on its own: it is counted,
    /// and the window ends with one summary record of the repeats. Zero: every request gets its own record.
    /// </summary>
    public TimeSpan AggregationWindow { get; init; }

    /// <summary>Identical requests counted at once, at most; past it new ones are recorded one by one (memory stays bounded).</summary>
    public int MaxAggregates { get; init; } = 10_000;

    /// <summary>The log moves on to a new segment once the current one reaches this many bytes (zero: never).</summary>
    public long SegmentBytes { get; init; } = 64L << 20;
}
