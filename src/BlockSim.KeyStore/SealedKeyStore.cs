using System.Security.Cryptography;
using BlockSim.KeyStore.Audit;
using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Policies;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore;

/// <summary>
/// The sealed key store: the store file (a directory's primary and backup copies, or one etcd key shared by
/// a fleet: see <see cref="IKeyStoreMedium"/>), a lock that keeps writers apart and the audit log. The root key is unwrapped from a keyslot at open and held in pinned memory zeroed on Dispose; master
/// key material is unsealed only for the request that needs it. Every request re-reads the store under the
/// lock, so several processes (or hosts) see one state and never write at once.
/// </summary>
public sealed partial class SealedKeyStore : IKeyService, IDisposable
{
    public const string DefaultAlias = "alias/blocksim/default";
    private readonly IKeyStoreMedium _medium;
    private readonly byte[] _root = GC.AllocateArray<byte>(32, pinned: true);
    private readonly byte[] _bodyMacKey = GC.AllocateArray<byte>(32, pinned: true);
    private readonly byte[] _auditMacKey = GC.AllocateArray<byte>(32, pinned: true);
    private readonly TimeProvider _time;
    private readonly AuditLog _audit;
    private readonly SemaphoreSlim _inProcess = new(1, 1);

    /// <summary>What this process can open the store with: the unlocker it was opened (or created) with first, then those it added.</summary>
    private readonly List<Unlocker> _held = [];
    private List<KeySlot> _slots = [];

    private SealedKeyStore(IKeyStoreMedium medium, TimeProvider? time)
    {
        _medium = medium;
        _time = time ?? TimeProvider.System;
        _audit = new AuditLog(medium.Audit, _auditMacKey);
    }

    /// <summary>Where the store is: a directory, or etcd://HOST:PORT/PREFIX.</summary>
    public string Location => _medium.Location;

    /// <summary>Where the audit log is being written (a file, or an etcd prefix).</summary>
    public string AuditLogPath => _medium.Audit.Location;

    /// <summary>True when <paramref name="directory"/> holds a store (either copy of the store file), readable or not.</summary>
    public static bool Exists(string directory) => DirectoryKeyStoreMedium.HoldsStore(directory);

    /// <summary>
    /// Creates a new store in an empty or new directory (0700), sealed for <paramref name="unlocker"/>, with the
    /// service-managed default key (alias/blocksim/default) administered by <paramref name="administrator"/>.
    /// </summary>
    public static SealedKeyStore Create(string directory, Unlocker unlocker, string administrator, TimeProvider? time = null) =>
        Create(new DirectoryKeyStoreMedium(directory), unlocker, administrator, time);

    /// <summary>
    /// Creates a new store on <paramref name="medium"/> (which the store then owns), refusing one that holds a
    /// store already; otherwise as <see cref="Create(string, Unlocker, string, TimeProvider?)"/>.
    /// </summary>
    public static SealedKeyStore Create(IKeyStoreMedium medium, Unlocker unlocker, string administrator, TimeProvider? time = null)
    {
        medium.Prepare();
        if (medium.Exists())
        {
            throw new KeyStoreException(KeyStoreErrors.AlreadyExists, $"{medium.Location} already holds a key store; open it instead.");
        }

        var store = new SealedKeyStore(medium, time);
        RandomNumberGenerator.Fill(store._root);
        RandomNumberGenerator.Fill(store._auditMacKey); // not derived from the root: it must outlive a re-key
        store.DeriveSubkeys();
        store._held.Add(unlocker);
        store._slots = [store.SealSlot(unlocker, store._root)];
        store.NoteOpenedWith(0, store._slots[0]);
        using (store.Lock())
        {
            if (store.ReadCopies().Count > 0)
            {
                throw new KeyStoreException(KeyStoreErrors.AlreadyExists, $"{medium.Location} already holds a key store (made by another process just now); open it instead.");
            }

            var body = new StoreBody();
            body.Keys.Add(store.NewKey(administrator, "service-managed default key for BlockSim volumes", [DefaultAlias]));
            try
            {
                store.RecordThenCommit(body, [store.NewRecord("CreateKey", new KeyRequestContext(administrator), body.Keys[0].KeyId, null, 1, null, null)]);
            }
            catch (KeyStoreConflictException)
            {
                throw new KeyStoreException(KeyStoreErrors.AlreadyExists, $"{medium.Location} already holds a key store (made by another process just now); open it instead.");
            }
        }

        return store;
    }

    /// <summary>Opens a store: the first valid copy with the highest sequence number, unsealed by <paramref name="unlocker"/>.</summary>
    public static SealedKeyStore Open(string directory, Unlocker unlocker, TimeProvider? time = null) =>
        Open(new DirectoryKeyStoreMedium(directory), unlocker, time);

    /// <summary>Opens the store on <paramref name="medium"/> (which the store then owns; disposed with it, or at once when opening fails).</summary>
    public static SealedKeyStore Open(IKeyStoreMedium medium, Unlocker unlocker, TimeProvider? time = null)
    {
        var store = new SealedKeyStore(medium, time);
        try
        {
            // Under the lock from the start: a re-key in another process may be between writing a new key
            // file and committing the store, and only the lock tells its .next from one a crash left behind.
            using (store.Lock())
            {
                store._held.Add(unlocker);
                var copies = store.ReadCopies();
                if (copies.Count == 0)
                {
                    throw new KeyStoreException(KeyStoreErrors.NotFound, $"No key store in {medium.Location} ({DescribeCopies(medium)}).");
                }

                var finished = false;
                if (store.PendingKeyFiles(copies).Count > 0)
                {
                    // A re-key under way in another process is told from a crash's leftovers only under its lock.
                    using (medium.LockForReKey())
                    {
                        copies = store.ReadCopies();
                        finished = store.FinishInterruptedReKey(copies);
                    }
                }

                // Either copy's slots may open the root key: a damaged slot in one copy must not lock out the other.
                if (!TryUnwrapAny(unlocker, copies, store._root, out var refusal, out var opened))
                {
                    throw refusal!;
                }

                store.NoteOpenedWith(opened.Slot, opened.Copy.Slots[opened.Slot]);

                store.DeriveSubkeys();
                var body = store.Load(); // checks the MACs now, so a tampered store is reported at open
                if (finished)
                {
                    store.Save(body); // a re-key cut short may have left one copy under the old root: rewrite both
                }
            }

            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Unwraps the root key with the first copy whose slots <paramref name="unlocker"/> opens.</summary>
    private static bool TryUnwrapAny(Unlocker unlocker, IReadOnlyList<StoreFile> copies, Span<byte> root, out KeyStoreException? refusal, out (StoreFile Copy, int Slot) opened)
    {
        refusal = null;
        opened = default;
        foreach (var copy in copies)
        {
            try
            {
                opened = (copy, copy.UnwrapRootKey(unlocker, root));
                return true;
            }
            catch (KeyStoreException e) when (e.ErrorCode == KeyStoreErrors.UnlockFailed)
            {
                refusal = e;
            }
        }

        return false;
    }

    /// <summary>Problems found in the store copies (empty when both verify), for <c>blocksim</c> to report.</summary>
    public IReadOnlyList<string> CheckCopies()
    {
        using var held = Lock();
        try
        {
            Load(); // follows a re-key made by another process, so its copies are checked with the new root
        }
        catch (KeyStoreException e) when (e.ErrorCode == KeyStoreErrors.StoreDamaged)
        {
            // Both copies are reported below.
        }

        var problems = new List<string>();
        foreach (var copy in _medium.ReadCopies())
        {
            var file = Parse(copy);
            if (file is null || !MacMatches(file))
            {
                problems.Add($"{copy.Name} is missing, damaged or tampered with");
            }
        }

        return problems;
    }

    /// <summary>Adds another way to open the store (a passphrase beside the key file, say); audited as AddKeySlot.</summary>
    public void AddUnlocker(Unlocker unlocker, KeyRequestContext? context = null) => AddSlot(unlocker, context ?? new KeyRequestContext(StorePrincipal));

    /// <summary>Verifies the audit log's chain, its head and the store's anchor: no problems means intact.</summary>
    public AuditVerification VerifyAuditLog()
    {
        using (Lock())
        {
            return _audit.Verify(Load().AuditAnchor);
        }
    }

    /// <summary>
    /// Moves the oldest audit records, all but about the last <paramref name="keepLast"/>, into closed
    /// segments (a log that does not verify is refused, nothing moved), then records that it did so.
    /// </summary>
    public AuditArchive ArchiveAuditLog(int keepLast, KeyRequestContext context)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keepLast);
        AuditArchive? archived = null;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using (Lock(exclusive: attempt > 2))
                {
                    var body = Load();
                    if (archived is null)
                    {
                        var verification = _audit.Verify(body.AuditAnchor);
                        if (verification.Problems.Count > 0)
                        {
                            throw new KeyStoreException(KeyStoreErrors.AuditLogDamaged, $"The audit log does not verify, so nothing was archived ({verification.Problems[0]}). Run 'blocksim audit verify' and repair it first.");
                        }

                        archived = _audit.Storage.Archive(keepLast);
                    }

                    var record = NewRecord("ArchiveAuditLog", context, null, null, null, null, null);
                    record.AdditionalEventData = new Dictionary<string, string>
                    {
                        ["recordsArchived"] = archived.Records.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["segments"] = string.Join(", ", archived.Segments),
                    };
                    RecordThenCommit(body, [record]);
                    return archived;
                }
            }
            catch (KeyStoreConflictException) when (attempt < MaxAttempts)
            {
                // The records are archived; only this request's own record lost the race: write it again.
            }
        }
    }

    public void Dispose()
    {
        CloseAggregation(); // writes what is counted while the audit key is still there
        CryptographicOperations.ZeroMemory(_root);
        CryptographicOperations.ZeroMemory(_bodyMacKey);
        CryptographicOperations.ZeroMemory(_auditMacKey);
        _inProcess.Dispose();
        _medium.Dispose();
    }

    public override string ToString() => $"SealedKeyStore({_medium.Location})";

    /// <summary>The body's MAC key follows the root: a re-key changes it, so a copy from before no longer verifies.</summary>
    private void DeriveSubkeys() =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _root, _bodyMacKey, [], "blocksim-keystore-body-mac"u8);

    /// <summary>A slot for <paramref name="unlocker"/>; a key-file slot records where its key file is, so a re-key can replace it.</summary>
    private KeySlot SealSlot(Unlocker unlocker, ReadOnlySpan<byte> root)
    {
        var slot = StoreFile.Seal(unlocker, root);
        if (unlocker is KeyFileUnlocker keyFile)
        {
            slot.KeyFile = RecordedKeyFile(keyFile.Path);
        }

        return slot;
    }

    /// <summary>How a slot records its key file: relative to the store's directory, or in full where the store has none.</summary>
    private string RecordedKeyFile(string path) =>
        _medium.KeyFileBase is { } directory ? Path.GetRelativePath(directory, Path.GetFullPath(path)) : Path.GetFullPath(path);

    /// <summary>The key file a slot records, in full.</summary>
    private string KeyFileOfSlot(string recorded) =>
        Path.GetFullPath(_medium.KeyFileBase is { } directory ? Path.Combine(directory, recorded) : recorded);

    private MasterKey NewKey(string administrator, string description, List<string> aliases)
    {
        var key = new MasterKey
        {
            KeyId = Guid.NewGuid().ToString(),
            Aliases = aliases,
            Description = description,
            Created = _time.GetUtcNow(),
            State = KeyState.Enabled,
            Policy = KeyPolicy.Default(administrator),
            CreatedBy = administrator,
        };
        key.Versions.Add(NewMaterial(key.KeyId, 1));
        return key;
    }

    private KeyMaterial NewMaterial(string keyId, int version)
    {
        var material = GC.AllocateArray<byte>(32, pinned: true);
        try
        {
            RandomNumberGenerator.Fill(material);
            var sealedMaterial = new KeyMaterial { Version = version, Created = _time.GetUtcNow() };
            SealMaterial(keyId, sealedMaterial, material, _root);
            return sealedMaterial;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }
    }

    /// <summary>Seals <paramref name="material"/> into <paramref name="version"/> under <paramref name="root"/> (a fresh nonce each time).</summary>
    private static void SealMaterial(string keyId, KeyMaterial version, ReadOnlySpan<byte> material, ReadOnlySpan<byte> root)
    {
        version.Nonce = RandomNumberGenerator.GetBytes(12);
        version.Sealed = new byte[48];
        using var gcm = new AesGcm(root, 16);
        gcm.Encrypt(version.Nonce, material, version.Sealed.AsSpan(0, 32), version.Sealed.AsSpan(32), MaterialContext(keyId, version.Version));
    }

    /// <summary>Unseals one master key version into <paramref name="material"/> (32 bytes; the caller zeroes it).</summary>
    private void Unseal(MasterKey key, KeyMaterial version, Span<byte> material)
    {
        using var gcm = new AesGcm(_root, 16);
        gcm.Decrypt(version.Nonce, version.Sealed.AsSpan(0, 32), version.Sealed.AsSpan(32), material, MaterialContext(key.KeyId, version.Version));
    }

    private static byte[] MaterialContext(string keyId, int version) => System.Text.Encoding.UTF8.GetBytes($"blocksim-master-key|{keyId}|{version}");

    /// <summary>
    /// Keys whose waiting period is over are destroyed (in the body; the caller records and saves): their
    /// material is erased from both copies, and the caller re-keys the store in the same commit
    /// (<see cref="PlanReKey"/>), so copies made before no longer open with what is left.
    /// </summary>
    private List<string> DestroyDueKeys(StoreBody body)
    {
        var destroyed = new List<string>();
        foreach (var key in body.Keys.Where(k => k.State == KeyState.PendingDeletion && k.DeletionDate <= _time.GetUtcNow()))
        {
            key.State = KeyState.Destroyed;
            key.Versions.Clear();
            body.Grants.RemoveAll(g => g.KeyId == key.KeyId);
            destroyed.Add(key.KeyId);
        }

        return destroyed;
    }
}
