namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// One record of a write log, as read back. Flat rather than one type per kind so that streaming a log
/// allocates nothing per record but the write payloads. <see cref="Index"/> is the record's ordinal in the
/// log, which crash points count in; <see cref="Position"/> its byte offset in the file.
/// </summary>
public readonly record struct WriteLogRecord
{
    public WriteLogRecordKind Kind { get; init; }

    /// <summary>The request's id (submissions and completions); 0 for marks.</summary>
    public long Id { get; init; }

    public long Offset { get; init; }

    /// <summary>Bytes the request covers; for a write, the payload's length.</summary>
    public long Length { get; init; }

    /// <summary>A write submitted with FUA: durable once it completes.</summary>
    public bool Fua { get; init; }

    /// <summary>A write-zeroes that allowed the range to be deallocated.</summary>
    public bool MayDeallocate { get; init; }

    /// <summary>A completion of a request that failed below.</summary>
    public bool Failed { get; init; }

    public ReadOnlyMemory<byte> Payload { get; init; }

    public string? MarkName { get; init; }

    public long Index { get; init; }

    public long Position { get; init; }

    /// <summary>A submission of a request that changes what the device holds.</summary>
    public bool ChangesContent => Kind is WriteLogRecordKind.Write or WriteLogRecordKind.Trim or WriteLogRecordKind.WriteZeroes;

    public override string ToString() => Kind switch
    {
        WriteLogRecordKind.Write => $"#{Index} write {Id} at {Offset} length {Length}{(Fua ? " fua" : "")}",
        WriteLogRecordKind.Trim or WriteLogRecordKind.WriteZeroes => $"#{Index} {Kind.ToString().ToLowerInvariant()} {Id} at {Offset} length {Length}",
        WriteLogRecordKind.Flush => $"#{Index} flush {Id}",
        WriteLogRecordKind.Mark => $"#{Index} mark \"{MarkName}\"",
        WriteLogRecordKind.Completion => $"#{Index} {(Failed ? "failed" : "completed")} {Id}",
        _ => $"#{Index} {Kind}",
    };
}
