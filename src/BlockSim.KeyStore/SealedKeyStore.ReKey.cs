using System.Security.Cryptography;
using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore;

/// <summary>
/// Crypto-shredding that holds against copies of the store where it can. Erasing a destroyed key's material
/// from both copies does not reach a copy made earlier (a backup), which would open with the same key file
/// and give the key back. So a request that destroys keys also re-keys the store in the same commit: a new
/// root key, every remaining master-key version and the audit key sealed again under it, and every slot
/// sealed again for what this process can open it with. A key file gets a new key file (a new secret), so
/// the old key file opens nothing new and the current one opens nothing old. A passphrase slot can only be
/// sealed again with its passphrase: unless this process holds it, the slot is removed, and said so.
/// <para>
/// The slot this process opened the store with is always sealed again (it proved it opens the current
/// root), so a re-key never leaves a store without a way in.
/// </para>
/// <para>
/// Order on disk, so that some key file opens the current store at every moment: the new key files are
/// written as <c>KEYFILE.next</c>, then both store copies are committed sealed for them, then each
/// <c>.next</c> is renamed over its key file. Opening the store finishes a rename a crash interrupted, and
/// discards a <c>.next</c> a crash left before the commit (<see cref="FinishInterruptedReKey"/>).
/// </para>
/// </summary>
public sealed partial class SealedKeyStore
{
    /// <summary>Tests only: called with the name of each point between a re-key's durable steps, to stop there as a crash would.</summary>
    internal Action<string>? CrashPoint { get; set; }

    /// <summary>A re-key decided but not yet committed: the new root and what its slots will be.</summary>
    private sealed class ReKeyPlan : IDisposable
    {
        public byte[] Root { get; } = GC.AllocateArray<byte>(32, pinned: true);

        public byte[] BodyMacKey { get; } = GC.AllocateArray<byte>(32, pinned: true);

        public List<KeySlot> Slots { get; } = [];

        /// <summary>The key files to replace: full path and the new secret (pinned, zeroed on Dispose).</summary>
        public List<(string Path, byte[] Secret)> KeyFiles { get; } = [];

        public List<PassphraseUnlocker> Passphrases { get; } = [];

        public List<string> Resealed { get; } = [];

        public List<string> Removed { get; } = [];

        /// <summary>The kinds of the slots that could not be sealed again (damaged, or whose secret is not at hand).</summary>
        public HashSet<string> RemovedTypes { get; } = [];

        /// <summary>The KMIP keys (server and object id) the new slots are sealed under.</summary>
        public List<string> KmipKeys { get; } = [];

        public bool Covers(Unlocker unlocker) => unlocker switch
        {
            KeyFileUnlocker k => KeyFiles.Any(f => f.Path == Path.GetFullPath(k.Path)),
            PassphraseUnlocker p => Passphrases.Contains(p),
            KmipUnlocker => KmipKeys.Count > 0, // a kmip opener is the recorded one: it is covered once its slots are
            _ => false,
        };

        public void Dispose()
        {
            CryptographicOperations.ZeroMemory(Root);
            CryptographicOperations.ZeroMemory(BodyMacKey);
            foreach (var (_, secret) in KeyFiles)
            {
                CryptographicOperations.ZeroMemory(secret);
            }
        }
    }

    /// <summary>Under the lock, after <see cref="Load"/>: decides the new root and the slots sealed for it (nothing is written yet).</summary>
    private ReKeyPlan PlanReKey()
    {
        var plan = new ReKeyPlan();
        var opened = GC.AllocateArray<byte>(32, pinned: true);
        try
        {
            RandomNumberGenerator.Fill(plan.Root);
            HKDF.DeriveKey(HashAlgorithmName.SHA256, plan.Root, plan.BodyMacKey, [], "blocksim-keystore-body-mac"u8);
            foreach (var slot in _slots)
            {
                var by = Candidates(slot).FirstOrDefault(u => OpensCurrentRoot(u, slot, opened));
                if (by is null)
                {
                    plan.RemovedTypes.Add(slot.Type);
                    plan.Removed.Add(slot.Type switch
                    {
                        KeySlotTypes.Passphrase => "a passphrase slot (its passphrase is not held by this process, and a slot cannot be re-sealed without it)",
                        KeySlotTypes.Kmip => $"a kmip slot whose key manager refuses to open it (KMIP key {slot.Kmip?.ObjectId} on {slot.Kmip?.Server})",
                        _ => $"a key-file slot whose key file is not known or no longer opens it ({slot.KeyFile ?? "path not recorded"})",
                    });
                }
                else if (by is KmipUnlocker)
                {
                    AddKmipSlot(plan, slot);
                }
                else if (!plan.Covers(by))
                {
                    AddSlot(plan, by, slot);
                }
            }

            // The opener's own slot may be damaged in the copy read: it still keeps its way in. A slot removed
            // on purpose (by any process) is not there at all, and is not brought back.
            if (_held.Count > 0 && _held[0] is not KmipUnlocker && !plan.Covers(_held[0]) && plan.RemovedTypes.Contains(_held[0].SlotType))
            {
                AddSlot(plan, _held[0], null);
            }

            if (plan.Slots.Count == 0)
            {
                throw new KeyStoreException(KeyStoreErrors.UnlockFailed, "A key is due for destruction, which re-keys the store, but no slot could be sealed again for the new root key; nothing was changed. Open the store with a key file, passphrase or kmip slot it has, and try again.");
            }

            return plan;
        }
        catch
        {
            plan.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(opened);
        }
    }

    /// <summary>Who could seal the slot again: an unlocker this process holds, or, for a key file, the file the slot records.</summary>
    private IEnumerable<Unlocker> Candidates(KeySlot slot)
    {
        foreach (var unlocker in _held.Where(u => u.SlotType == slot.Type))
        {
            yield return unlocker;
        }

        if (slot.Type == KeySlotTypes.KeyFile && slot.KeyFile is { } recorded)
        {
            yield return new KeyFileUnlocker(KeyFileOfSlot(recorded));
        }

        if (slot.Type == KeySlotTypes.Kmip && !_held.OfType<KmipUnlocker>().Any())
        {
            yield return KmipUnlocker.Recorded; // the slot says where its key manager is
        }
    }

    /// <summary>
    /// A kmip slot sealed again under the same KMIP key: a new slot key, encrypted by the key manager. A copy
    /// of the store from before still opens through that KMIP key, as an old copy opens with an old
    /// passphrase; revoke the KMIP key (a new slot under a new key first) to close that.
    /// </summary>
    private static void AddKmipSlot(ReKeyPlan plan, KeySlot replaced)
    {
        var kmip = replaced.Kmip!;
        var unlocker = KmipUnlocker.ForNewSlot(kmip.Endpoint(), kmip.ObjectId);
        plan.Slots.Add(StoreFile.Seal(unlocker, plan.Root));
        plan.KmipKeys.Add($"{kmip.Server}/{kmip.ObjectId}");
        plan.Resealed.Add($"a kmip slot (KMIP key {kmip.ObjectId} on {kmip.Server}, a new slot key)");
    }

    /// <summary>True when <paramref name="unlocker"/> opens <paramref name="slot"/> to this process's root (a stale or foreign slot does not count).</summary>
    private bool OpensCurrentRoot(Unlocker unlocker, KeySlot slot, byte[] scratch)
    {
        try
        {
            return StoreFile.TryUnwrap(unlocker, slot, scratch) && CryptographicOperations.FixedTimeEquals(scratch, _root);
        }
        catch (KeyStoreException e) when (e.ErrorCode != KeyStoreErrors.StoreUnavailable)
        {
            return false; // a key file missing or unsafe, a KMIP key refused: this unlocker cannot vouch for the slot
        }
        finally
        {
            CryptographicOperations.ZeroMemory(scratch);
        }
    }

    /// <summary>A slot for the new root, sealed for <paramref name="unlocker"/>; a passphrase keeps the Argon2 cost of the slot it replaces.</summary>
    private void AddSlot(ReKeyPlan plan, Unlocker unlocker, KeySlot? replaced)
    {
        if (unlocker is KeyFileUnlocker keyFile)
        {
            var path = Path.GetFullPath(keyFile.Path);
            var secret = GC.AllocateArray<byte>(32, pinned: true);
            RandomNumberGenerator.Fill(secret);
            plan.KeyFiles.Add((path, secret));
            var slot = StoreFile.SealForKeyFile(secret, plan.Root);
            slot.KeyFile = RecordedKeyFile(path);
            plan.Slots.Add(slot);
            plan.Resealed.Add($"key file {path} (replaced by a new key file)");
        }
        else if (unlocker is PassphraseUnlocker passphrase)
        {
            plan.Passphrases.Add(passphrase);
            plan.Slots.Add(StoreFile.Seal(replaced is null ? passphrase : passphrase.WithCostOf(replaced), plan.Root));
            plan.Resealed.Add("a passphrase slot (re-sealed with the passphrase this process opened it with)");
        }
    }

    /// <summary>Notes on the destruction records, and one RemoveKeySlot record per slot the re-key drops.</summary>
    private void RecordReKey(List<Audit.AuditRecord> records, ReKeyPlan rekey)
    {
        foreach (var record in records)
        {
            record.AdditionalEventData = new Dictionary<string, string>
            {
                ["rootKey"] = "replaced",
                ["keySlotsResealed"] = string.Join("; ", rekey.Resealed),
                ["note"] = "The store's root key was replaced in the same commit as this destruction: the remaining key material and the audit key are sealed under the new root, key files are replaced by new ones. "
                    + (rekey.Removed.Count == 0 ? "" : "A passphrase slot cannot be re-sealed without its passphrase: it is removed unless the store is opened with it. ")
                    + "Copies of the store made before this destruction still hold the key and open with the old key file or a passphrase of that time.",
            };
            if (rekey.Removed.Count > 0)
            {
                record.AdditionalEventData["keySlotsRemoved"] = string.Join("; ", rekey.Removed);
            }
        }

        foreach (var removed in rekey.Removed)
        {
            var record = NewRecord("RemoveKeySlot", new KeyRequestContext(StorePrincipal), null, null, null, null, null);
            record.AdditionalEventData = new Dictionary<string, string>
            {
                ["keySlot"] = removed,
                ["reason"] = "A key was destroyed, which re-keys the store; this slot could not be sealed for the new root key, so it was removed. Add it again (with its passphrase) to open the store with it.",
            };
            records.Add(record);
        }
    }

    /// <summary>
    /// Commits a re-key (the records are already in the log): the body sealed under the new root, the new key
    /// files as <c>.next</c>, both copies, then the renames. Until the primary is written nothing is
    /// committed and every <c>.next</c> is discarded on failure; from then on the new root is this process's.
    /// </summary>
    private void SaveReKeyed(StoreBody body, ReKeyPlan rekey)
    {
        using var reKeying = _medium.LockForReKey(); // no other process may take these .next files for a crash's
        ResealBody(body, rekey);
        try
        {
            foreach (var (path, secret) in rekey.KeyFiles)
            {
                PendingKeyFile.Write(path, secret);
            }

            CrashPoint?.Invoke("key-files-written");
            Save(body, rekey);
        }
        catch (StoreCopyWriteFailedException)
        {
            Adopt(rekey);
            FinishKeyFiles(rekey, "the backup copy could not be written either");
            throw;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var (path, _) in rekey.KeyFiles)
            {
                PendingKeyFile.Discard(path);
            }

            throw;
        }

        Adopt(rekey);
        CrashPoint?.Invoke("store-written");
        FinishKeyFiles(rekey, null);
    }

    /// <summary>Every remaining master-key version and the audit key, sealed again under the new root (same material, new nonces).</summary>
    private void ResealBody(StoreBody body, ReKeyPlan rekey)
    {
        var material = GC.AllocateArray<byte>(32, pinned: true);
        try
        {
            foreach (var key in body.Keys)
            {
                foreach (var version in key.Versions)
                {
                    Unseal(key, version, material);
                    SealMaterial(key.KeyId, version, material, rekey.Root);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }

        body.AuditKey = SealedSecret.Seal(_auditMacKey, rekey.Root, AuditKeyPurpose);
    }

    private void Adopt(ReKeyPlan rekey)
    {
        rekey.Root.CopyTo(_root, 0);
        rekey.BodyMacKey.CopyTo(_bodyMacKey, 0);
        _slots = rekey.Slots;
    }

    /// <summary>The store is committed for the new key files: each takes its old one's place. A failure here is committed all the same.</summary>
    private static void FinishKeyFiles(ReKeyPlan rekey, string? alsoFailed)
    {
        foreach (var (path, _) in rekey.KeyFiles)
        {
            try
            {
                PendingKeyFile.Finish(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var also = alsoFailed is null ? "" : $" ({alsoFailed})";
                throw new KeyStoreException(
                    KeyStoreErrors.StoreWriteFailed,
                    $"A key was destroyed and the store re-keyed (committed and recorded), but {PendingKeyFile.NextPath(path)} could not be renamed over {path}{also}: until it is, the store opens with {PendingKeyFile.NextPath(path)}, and the next open of the store finishes the rename: {e.Message}",
                    e);
            }
        }
    }
}
