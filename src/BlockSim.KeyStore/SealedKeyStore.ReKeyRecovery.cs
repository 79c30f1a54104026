using System.Security.Cryptography;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore;

/// <summary>
/// Landing on one state after a re-key: finishing (or discarding) what a crash left of one, and following
/// one that another process committed while this one held the old root.
/// </summary>
public sealed partial class SealedKeyStore
{
    /// <summary>
    /// Under the lock, before the root is unwrapped: a <c>KEYFILE.next</c> that opens a copy of the store
    /// belongs to a committed re-key whose rename a crash cut short, so the rename is finished; one that opens
    /// nothing was written by a re-key that never committed, and is discarded. True when a rename was finished.
    /// </summary>
    private bool FinishInterruptedReKey(IReadOnlyList<StoreFile> copies)
    {
        var finished = false;
        var scratch = GC.AllocateArray<byte>(32, pinned: true);
        try
        {
            foreach (var path in PendingKeyFiles(copies))
            {
                var pending = new KeyFileUnlocker(PendingKeyFile.NextPath(path));
                bool opens;
                try
                {
                    opens = copies.SelectMany(c => c.Slots).Any(s => StoreFile.TryUnwrap(pending, s, scratch));
                }
                catch (KeyStoreException)
                {
                    continue; // unreadable or unsafe: it may be the committed one, so it is neither used nor deleted
                }

                if (opens)
                {
                    PendingKeyFile.Finish(path);
                    finished = true;
                }
                else
                {
                    PendingKeyFile.Discard(path);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(scratch);
        }

        return finished;
    }

    /// <summary>The key files this process holds or the copies' slots name that have a <c>KEYFILE.next</c> beside them.</summary>
    private List<string> PendingKeyFiles(IReadOnlyList<StoreFile> copies) =>
        [.. _held.OfType<KeyFileUnlocker>().Select(k => Path.GetFullPath(k.Path))
            .Concat(copies.SelectMany(c => c.Slots).Where(s => s.Type == KeySlotTypes.KeyFile && s.KeyFile is not null).Select(s => KeyFileOfSlot(s.KeyFile!)))
            .Distinct(StringComparer.Ordinal)
            .Where(p => File.Exists(PendingKeyFile.NextPath(p)))];

    /// <summary>
    /// Under the lock, when neither copy verifies under this process's root: another process may have re-keyed
    /// the store (a daemon holds it open while a CLI command destroys a key). The root is unwrapped again with
    /// what this process holds (a key file is read afresh, so the new one opens); true when it changed and
    /// was adopted. When nothing held opens the store any more (its passphrase slot was removed, or the store
    /// was replaced by an older copy), the request fails clearly and nothing is written.
    /// </summary>
    private bool FollowReKey()
    {
        var copies = ReadCopies();
        if (copies.Count == 0)
        {
            return false;
        }

        FinishInterruptedReKey(copies);
        var root = GC.AllocateArray<byte>(32, pinned: true);
        try
        {
            // A kmip slot opens through the key manager it records, whatever this process was opened with.
            IEnumerable<Unlocker> openers = copies.Any(c => c.Slots.Any(s => s.Type == KeySlotTypes.Kmip)) && !_held.OfType<KmipUnlocker>().Any()
                ? [.. _held, KmipUnlocker.Recorded]
                : _held;
            if (!openers.Any(u => TryUnwrapAny(u, copies, root, out _, out _)))
            {
                var with = _held.Count == 0 ? "what it was opened with (its slot was removed)" : _held[0] switch
                {
                    KeyFileUnlocker k => $"the key file {k.Path}",
                    KmipUnlocker => "its kmip slot",
                    _ => "the passphrase",
                };
                throw new KeyStoreException(
                    KeyStoreErrors.UnlockFailed,
                    $"The key store in {_medium.Location} no longer opens with {with}, which this process opened it with: another process re-keyed it (destroying a key replaces the root key and the key file, and removes a passphrase slot it cannot re-seal), or it was replaced by a copy from before such a re-key. Nothing was changed; open the store again (restart the daemon) with a key file or passphrase that opens it now.");
            }

            if (CryptographicOperations.FixedTimeEquals(root, _root))
            {
                return false; // same root: the copies really are damaged
            }

            root.CopyTo(_root, 0);
            DeriveSubkeys();
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(root);
        }
    }
}
