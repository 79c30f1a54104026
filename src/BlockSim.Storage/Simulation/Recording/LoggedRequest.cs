namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// One request of a write log, its submission and completion put together: where in the log each happened
/// (record indices, which crash points count in) and what it asked for.
/// </summary>
public sealed class LoggedRequest
{
    /// <summary>Not completed (in the whole log).</summary>
    public const int NotCompleted = -1;

    internal LoggedRequest(WriteLogRecord submission, int index, int sectorSize)
    {
        Id = submission.Id;
        Kind = submission.Kind;
        Offset = submission.Offset;
        Length = submission.Length;
        Fua = submission.Fua;
        Payload = submission.Payload;
        Submitted = index;
        MayDeallocate = submission.Kind == WriteLogRecordKind.Trim || submission.MayDeallocate;
        FirstSector = Offset / sectorSize;
        Sectors = Length == 0 ? 0 : ((Offset + Length - 1) / sectorSize) - FirstSector + 1;
    }

    public long Id { get; }

    public WriteLogRecordKind Kind { get; }

    public long Offset { get; }

    public long Length { get; }

    public bool Fua { get; }

    /// <summary>A trim, or a write-zeroes that allowed deallocation: rebuilt as zeros that may be holes.</summary>
    public bool MayDeallocate { get; }

    /// <summary>What a write wrote; empty for trim and write-zeroes, which leave zeros.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The index of the submission record.</summary>
    public int Submitted { get; }

    /// <summary>The index of the completion record, or <see cref="NotCompleted"/>.</summary>
    public int Completed { get; internal set; } = NotCompleted;

    public bool Failed { get; internal set; }

    /// <summary>The first sector the request touches (in whole or in part).</summary>
    public long FirstSector { get; }

    /// <summary>How many sectors it touches: the pieces it can be torn into.</summary>
    public long Sectors { get; }

    public bool ChangesContent => Kind is WriteLogRecordKind.Write or WriteLogRecordKind.Trim or WriteLogRecordKind.WriteZeroes;

    /// <summary>Submitted before the crash point (among the first <paramref name="crashPoint"/> records).</summary>
    public bool SubmittedBefore(int crashPoint) => Submitted < crashPoint;

    /// <summary>Completed without error before the crash point.</summary>
    public bool SucceededBefore(int crashPoint) => Completed != NotCompleted && Completed < crashPoint && !Failed;

    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()} {Id}" + (ChangesContent ? $" at {Offset} length {Length}{(Fua ? " fua" : "")}" : "");
}
