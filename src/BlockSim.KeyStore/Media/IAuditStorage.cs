namespace BlockSim.KeyStore.Media;

/// <summary>
/// Where the audit log's lines and its head are kept. The chain (sequence numbers, previous hashes, HMACs,
/// the head's MAC) is built and checked above this, the same for every medium; a storage keeps lines in
/// order and says which is last.
/// </summary>
public interface IAuditStorage
{
    /// <summary>Where the log is, for messages: the segment being written, or an etcd prefix.</summary>
    string Location { get; }

    /// <summary>The head's name, for messages.</summary>
    string HeadName { get; }

    /// <summary>The log's segments, oldest first, each a name <see cref="ReadLines"/> takes.</summary>
    IReadOnlyList<string> Segments();

    /// <summary>A segment's complete lines, in order (a line cut short by a crash is not one).</summary>
    IReadOnlyList<string> ReadLines(string segment);

    /// <summary>The head's text, or null when there is none yet.</summary>
    string? ReadHead();

    /// <summary>Replaces the head (after a crash left it one record behind).</summary>
    void WriteHead(string head);

    /// <summary>The last complete line, or null for an empty log; a storage may first drop a line a crash cut short.</summary>
    byte[]? LastLine();

    /// <summary>
    /// Appends record <paramref name="sequence"/> (its line, without a newline) and makes <paramref name="head"/>
    /// the head: files write the line then the head, durably, at once; a storage with transactions stages
    /// both for the store's commit (<see cref="IKeyStoreMedium.WriteStore"/>), so records, head and store
    /// change together or not at all.
    /// </summary>
    void Append(long sequence, byte[] line, string head);

    /// <summary>
    /// Moves the oldest records, all but about the last <paramref name="keepLast"/>, into closed segments of
    /// their own, unchanged and in order, so the chain verifies across them and the live log stays small.
    /// Call only on a log that verifies. Nothing moved: zero records.
    /// </summary>
    AuditArchive Archive(int keepLast);
}

/// <summary>What an archive moved: how many records, into which segments.</summary>
public sealed record AuditArchive(long Records, IReadOnlyList<string> Segments);
