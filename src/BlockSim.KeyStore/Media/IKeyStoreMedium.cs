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
    /// Keeps writers in other processes (and, for a shared medium, other hosts) out until disposed; throws an
    /// <see cref="IOException"/> when another holds it too long, a <see cref="KeyStoreException"/> when the
    /// medium does not answer.
    /// </summary>
    IDisposable Lock();

    /// <summary>Every copy of the store, the one to trust first first; a copy that is missing has null bytes.</summary>
    IReadOnlyList<StoreCopy> ReadCopies();

    /// <summary>
    /// Writes the store durably. Under the lock, after <see cref="ReadCopies"/>: a medium that can compare
    /// writes only over the state it last read, and throws an <see cref="IOException"/> (nothing written)
    /// when another writer changed it meanwhile. <see cref="StoreCopyWriteFailedException"/> means the
    /// change is committed but a later copy was not written. <paramref name="crashPoint"/> is for tests.
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
