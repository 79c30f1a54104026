using System.Security.Cryptography;
using BlockSim.KeyStore.Audit;
using BlockSim.KeyStore.Policies;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore;

/// <summary>
/// The sealed key store: a directory with the store file (primary and backup), a lock file and the audit
/// log. The root key is unwrapped from a keyslot at open and held in pinned memory zeroed on Dispose; master
/// key material is unsealed only for the request that needs it. Every request re-reads the store under the
/// lock, so several processes see one state and never write at once.
/// </summary>
public sealed partial class SealedKeyStore : IKeyService, IDisposable
{
    public const string DefaultAlias = "alias/blocksim/default";
    private const string PrimaryName = "keystore.json";
    private const string BackupName = "keystore.backup.json";
    private readonly string _directory;
    private readonly byte[] _root = GC.AllocateArray<byte>(32, pinned: true);
    private readonly byte[] _bodyMacKey = GC.AllocateArray<byte>(32, pinned: true);
    private readonly byte[] _auditMacKey = GC.AllocateArray<byte>(32, pinned: true);
    private readonly TimeProvider _time;
    private readonly AuditLog _audit;
    private readonly SemaphoreSlim _inProcess = new(1, 1);

    /// <summary>What this process can open the store with: the unlocker it was opened (or created) with first, then those it added.</summary>
    private readonly List<Unlocker> _held = [];
    private List<KeySlot> _slots = [];

    private SealedKeyStore(string directory, TimeProvider? time)
    {
        _directory = directory;
        _time = time ?? TimeProvider.System;
        _audit = new AuditLog(directory, _auditMacKey) { SegmentBytes = _auditOptions.SegmentBytes };
    }

    public string Directory => _directory;

    public string AuditLogPath => _audit.FilePath;

    /// <summary>True when <paramref name="directory"/> holds a store (either copy of the store file), readable or not.</summary>
    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, PrimaryName)) || File.Exists(Path.Combine(directory, BackupName));

    /// <summary>
    /// Creates a new store in an empty or new directory (0700), sealed for <paramref name="unlocker"/>, with the
    /// service-managed default key (alias/blocksim/default) administered by <paramref name="administrator"/>.
    /// </summary>
    public static SealedKeyStore Create(string directory, Unlocker unlocker, string administrator, TimeProvider? time = null)
    {
        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (Exists(directory))
        {
            throw new KeyStoreException(KeyStoreErrors.AlreadyExists, $"{directory} already holds a key store; open it instead.");
        }

        var store = new SealedKeyStore(directory, time);
        RandomNumberGenerator.Fill(store._root);
        RandomNumberGenerator.Fill(store._auditMacKey); // not derived from the root: it must outlive a re-key
        store.DeriveSubkeys();
        store._held.Add(unlocker);
        store._slots = [store.SealSlot(unlocker, store._root)];
        using (store.Lock())
        {
            var body = new StoreBody();
            body.Keys.Add(store.NewKey(administrator, "service-managed default key for BlockSim volumes", [DefaultAlias]));
            store.RecordThenCommit(body, [store.NewRecord("CreateKey", new KeyRequestContext(administrator), body.Keys[0].KeyId, null, 1, null, null)]);
        }

        return store;
    }

    /// <summary>Opens a store: the first valid copy with the highest sequence number, unsealed by <paramref name="unlocker"/>.</summary>
    public static SealedKeyStore Open(string directory, Unlocker unlocker, TimeProvider? time = null)
    {
        var store = new SealedKeyStore(directory, time);
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
                    throw new KeyStoreException(KeyStoreErrors.NotFound, $"No key store in {directory} (neither {PrimaryName} nor {BackupName} is readable).");
                }

                var finished = store.FinishInterruptedReKey(copies);

                // Either copy's slots may open the root key: a damaged slot in one copy must not lock out the other.
                if (!TryUnwrapAny(unlocker, copies, store._root, out var refusal))
                {
                    throw refusal!;
                }

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
    private static bool TryUnwrapAny(Unlocker unlocker, IReadOnlyList<StoreFile> copies, Span<byte> root, out KeyStoreException? refusal)
    {
        refusal = null;
        foreach (var copy in copies)
        {
            try
            {
                copy.UnwrapRootKey(unlocker, root);
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
        foreach (var name in new[] { PrimaryName, BackupName })
        {
            var path = Path.Combine(_directory, name);
            var file = TryReadFile(path);
            if (file is null || !MacMatches(file))
            {
                problems.Add($"{path} is missing, damaged or tampered with");
            }
        }

        return problems;
    }

    /// <summary>Adds another way to open the store (a passphrase beside the key file, say); audited as AddKeySlot.</summary>
    public void AddUnlocker(Unlocker unlocker, KeyRequestContext? context = null)
    {
        using (Lock())
        {
            var body = Load();
            var slots = _slots;
            _slots = [.. _slots, SealSlot(unlocker, _root)];
            try
            {
                List<Audit.AuditRecord> records = [NewRecord("AddKeySlot", context ?? new KeyRequestContext(StorePrincipal), null, null, null, null, null)];
                RecordThenCommit(body, WithSummaries(records));
                Recorded(records);
                _held.Add(unlocker); // a re-key in this process can seal the new root for it too
            }
            catch
            {
                _slots = slots;
                throw;
            }
        }
    }

    /// <summary>Verifies the audit log's chain, its head and the store's anchor: no problems means intact.</summary>
    public AuditVerification VerifyAuditLog()
    {
        using (Lock())
        {
            return _audit.Verify(Load().AuditAnchor);
        }
    }

    public void Dispose()
    {
        CloseAggregation(); // writes what is counted while the audit key is still there
        CryptographicOperations.ZeroMemory(_root);
        CryptographicOperations.ZeroMemory(_bodyMacKey);
        CryptographicOperations.ZeroMemory(_auditMacKey);
        _inProcess.Dispose();
    }

    public override string ToString() => $"SealedKeyStore({_directory})";

    /// <summary>The body's MAC key follows the root: a re-key changes it, so a copy from before no longer verifies.</summary>
    private void DeriveSubkeys() =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _root, _bodyMacKey, [], "blocksim-keystore-body-mac"u8);

    /// <summary>A slot for <paramref name="unlocker"/>; a key-file slot records where its key file is, so a re-key can replace it.</summary>
    private KeySlot SealSlot(Unlocker unlocker, ReadOnlySpan<byte> root)
    {
        var slot = StoreFile.Seal(unlocker, root);
        if (unlocker is KeyFileUnlocker keyFile)
        {
            slot.KeyFile = Path.GetRelativePath(_directory, Path.GetFullPath(keyFile.Path));
        }

        return slot;
    }

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
