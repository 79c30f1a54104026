namespace BlockSim.KeyStore.Media;

/// <summary>
/// Where a sealed key store lives: a directory on this host, or a prefix in etcd shared by a fleet. The
/// store above it (slots, body MAC, policies, grants, states, re-keying, the audit chain and its
/// verification) is one code path; a medium only keeps bytes, keeps writers apart and says what it holds.
/// </summary>
public interface IKeyStoreMedium : IDisposable
{
    /// <summary>Where the store is, for messages: a directory, or <c>etcd://HOST:PORT/PREFIX</c>.</summary>
    string Location { get; }

    /// <summary>
    /// The directory key-file paths in keyslots are recorded relative to (so a data directory can move), or
    /// null where the store has no directory of its own and a key file is recorded by its full path.
    /// </summary>
    string? KeyFileBase { get; }

    /// <summary>The audit log's storage beside the store.</summary>
    IAuditStorage Audit { get; }

    /// <summary>True when the medium holds a store (any copy of it), readable or not.</summary>
    bool Exists();

    /// <summary>Readies the medium for a new store (a directory made 0700); the store is not written yet.</summary>
    void Prepare();

    /// <summary>
    /// Begins one request, ended by disposing. A directory keeps writers in other processes out until then
    /// (an <see cref="IOException"/> when another holds the lock too long). A medium with transactions
    /// takes no lock unless <paramref name="exclusive"/> (a request that lost the race at commit a few times
    /// asks for its turn) or another writer holds it: its one commit compares what the request read, and a
    /// conflict is a <see cref="KeyStoreConflictException"/> on which the request runs again.
    /// </summary>
    IDisposable Lock(bool exclusive = false);

    /// <summary>
    /// Keeps re-keys apart while a request writes or finishes one (its key files are written beside the
    /// store's commit, and only the holder of this lock may tell a crash's leftovers from a re-key under
    /// way). Inside <see cref="Lock"/>; a directory's lock already covers it.
    /// </summary>
    IDisposable LockForReKey();

    /// <summary>Every copy of the store, the one to trust first first; a copy that is missing has null bytes.</summary>
    IReadOnlyList<StoreCopy> ReadCopies();

    /// <summary>
    /// Writes the store durably. Inside <see cref="Lock"/>, after <see cref="ReadCopies"/>: a medium with
    /// transactions commits the audit records appended in this request with it, in one transaction, only
    /// over the state it read (else <see cref="KeyStoreConflictException"/>, nothing written).
    /// <see cref="StoreCopyWriteFailedException"/> means the change is committed but a later copy was not
    /// written. <paramref name="crashPoint"/> is for tests.
    /// </summary>
    void WriteStore(byte[] serialized, Action<string>? crashPoint);
}

/// <summary>One copy of the store: its name (a path, or a key) and its bytes, null when it is missing.</summary>
public sealed record StoreCopy(string Name, byte[]? Bytes);

/// <summary>The first copy was written (the change is committed) but <paramref name="failedCopy"/> was not.</summary>
public sealed class StoreCopyWriteFailedException(string committedCopy, string failedCopy, Exception inner) : IOException(inner.Message, inner)
{
    public string CommittedCopy { get; } = committedCopy;

    public string FailedCopy { get; } = failedCopy;
}
