namespace BlockSim.Storage.Simulation.Recording;

/// <summary>How a write log is broken.</summary>
public enum WriteLogDamage
{
    /// <summary>The header is missing, is not a write log's, or has a bad checksum.</summary>
    Header,

    /// <summary>The file ends inside a record (or a record's length runs past the end).</summary>
    Truncated,

    /// <summary>A record's bytes do not match its checksum.</summary>
    Checksum,

    /// <summary>A record has a sound checksum but says something impossible (unknown kind, wrong size, an id out of order).</summary>
    Malformed,

    /// <summary>Every record is sound but the End record is missing: the recorder did not close the log.</summary>
    Unfinished,
}

/// <summary>
/// A write log that cannot be read past some record. <see cref="RecordIndex"/> and <see cref="ByteOffset"/>
/// say where: the records before it are intact.
/// </summary>
public sealed class WriteLogDamagedException(WriteLogDamage damage, long recordIndex, long byteOffset, string detail)
    : IOException($"The write log is damaged at record {recordIndex} (byte {byteOffset}): {detail}. {Advice(damage, recordIndex)}")
{
    public WriteLogDamage Damage { get; } = damage;

    /// <summary>The ordinal of the first record that cannot be read (-1 for the header).</summary>
    public long RecordIndex { get; } = recordIndex;

    /// <summary>Where that record starts in the file.</summary>
    public long ByteOffset { get; } = byteOffset;

    private static string Advice(WriteLogDamage damage, long recordIndex) => damage switch
    {
        WriteLogDamage.Header => "This is not a BlockSim write log (.bslog), or its first bytes are lost.",
        WriteLogDamage.Truncated or WriteLogDamage.Unfinished =>
            $"The recorder probably stopped before closing the log; the {recordIndex} records before this point can still be read with allowUnfinished.",
        _ => $"The {recordIndex} records before it are sound; the rest cannot be trusted.",
    };
}
