using System.Globalization;
using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.KeyStore;

/// <summary>A keyslot as <c>keystore slot list</c> shows it: public facts only (no salt, no wrapped key).</summary>
/// <param name="Index">Its position, from 0, as <c>slot remove</c> takes it.</param>
/// <param name="Type">keyfile, passphrase or kmip.</param>
/// <param name="Description">One line for people: the key file, the Argon2 cost, the KMIP server and key.</param>
public sealed record KeySlotInfo(int Index, string Type, string Description, DateTimeOffset? Created, string? KeyFile, string? KmipServer, string? KmipObjectId);

/// <summary>
/// Keyslots, like LUKS's: listed without unsealing (they are public), added only by a process that has the
/// store open (it holds the root key to wrap), removed down to one and never the last. Every change is
/// audited (AddKeySlot, RemoveKeySlot) in the commit that makes it.
/// </summary>
public sealed partial class SealedKeyStore
{
    /// <summary>The slot this process opened the store with, as <c>slot list</c> describes it (for the start-up log and the audit log).</summary>
    public string OpenedWith { get; private set; } = "";

    /// <summary>The kind of that slot: keyfile, passphrase or kmip.</summary>
    public string OpenedWithType { get; private set; } = "";

    /// <summary>The store's slots, read under the lock from the copy that verifies.</summary>
    public IReadOnlyList<KeySlotInfo> ListSlots()
    {
        using (Lock())
        {
            Load();
            return [.. _slots.Select((slot, index) => Describe(index, slot))];
        }
    }

    /// <summary>The slots of the first copy that parses, without unsealing anything (to choose how to open the store); empty when there is none.</summary>
    public static IReadOnlyList<KeySlotInfo> PeekSlots(IKeyStoreMedium medium)
    {
        foreach (var copy in medium.ReadCopies())
        {
            if (Parse(copy) is { } file)
            {
                return [.. file.Slots.Select((slot, index) => Describe(index, slot))];
            }
        }

        return [];
    }

    /// <summary>Adds a slot for <paramref name="unlocker"/> (sealed with the root this process holds); audited as AddKeySlot. Returns the new slot.</summary>
    public KeySlotInfo AddSlot(Unlocker unlocker, KeyRequestContext context)
    {
        KeySlot? added = null; // sealed once: a kmip slot costs the key manager a key and two calls
        var result = Request<KeySlotInfo>(
            "AddKeySlot",
            context,
            null,
            null,
            _ =>
            {
                added ??= SealSlot(unlocker, _root);
                _slots = [.. _slots, added];
                return (Describe(_slots.Count - 1, added), true, null, null);
            },
            resultData: slot => new Dictionary<string, string> { ["keySlot"] = $"{slot.Index}: {slot.Description}" });
        if (!_held.Contains(unlocker))
        {
            _held.Add(unlocker); // a re-key in this process can seal the new root for it too
        }

        return result;
    }

    /// <summary>
    /// Removes slot <paramref name="index"/>; the last slot is refused (the store would open with nothing).
    /// Audited as RemoveKeySlot. What this process opened the store with stays usable until it closes it,
    /// but a re-key no longer seals the new root for it.
    /// </summary>
    public KeySlotInfo RemoveSlot(int index, KeyRequestContext context)
    {
        KeySlot? removed = null;
        var result = Request<KeySlotInfo>(
            "RemoveKeySlot",
            context,
            null,
            null,
            _ =>
            {
                if (index < 0 || index >= _slots.Count)
                {
                    throw new KeyStoreException(KeyStoreErrors.NotFound, $"The key store has no slot {index}: its slots are 0 to {_slots.Count - 1} ('blocksim keystore slot list').");
                }

                if (_slots.Count == 1)
                {
                    throw new KeyStoreException(KeyStoreErrors.Validation, $"Slot {index} is the store's last slot: removed, nothing could open the store again. Add another slot first.");
                }

                removed = _slots[index];
                var info = Describe(index, removed);
                _slots = [.. _slots.Where((_, i) => i != index)];
                return (info, true, null, null);
            },
            eventData: new Dictionary<string, string> { ["keySlotIndex"] = index.ToString(CultureInfo.InvariantCulture) },
            resultData: slot => new Dictionary<string, string> { ["keySlot"] = $"{slot.Index}: {slot.Description}" });
        ForgetOpenersOf(removed!);
        return result;
    }

    /// <summary>Records that this process opened the store and through which slot (the daemon does, at start-up).</summary>
    public void RecordOpened(KeyRequestContext context) =>
        Request<bool>("OpenKeyStore", context, null, null, _ => (true, false, null, null), eventData: new Dictionary<string, string> { ["keySlot"] = OpenedWith });

    /// <summary>A removed slot must not come back at the next re-key through an unlocker this process still holds.</summary>
    private void ForgetOpenersOf(KeySlot removed)
    {
        var scratch = GC.AllocateArray<byte>(32, pinned: true);
        foreach (var unlocker in _held.Where(u => u.SlotType == removed.Type).ToList())
        {
            if (unlocker is KmipUnlocker ? !_slots.Any(s => s.Type == KeySlotTypes.Kmip) : OpensCurrentRoot(unlocker, removed, scratch))
            {
                _held.Remove(unlocker);
            }
        }
    }

    private static KeySlotInfo Describe(int index, KeySlot slot) => slot.Type switch
    {
        KeySlotTypes.KeyFile => new(index, slot.Type, $"key file {slot.KeyFile ?? "(path not recorded)"}", slot.Created, slot.KeyFile, null, null),
        KeySlotTypes.Passphrase => new(index, slot.Type, $"passphrase (Argon2id m={slot.Argon2MemoryKiB} KiB, t={slot.Argon2Iterations}, p={slot.Argon2Parallelism})", slot.Created, null, null, null),
        KeySlotTypes.Kmip when slot.Kmip is { } k => new(index, slot.Type, $"KMIP key {k.ObjectId} on {k.Server} ({k.Mode}; client certificate {k.CertificateFile})", slot.Created, null, k.Server, k.ObjectId),
        _ => new(index, slot.Type, $"{slot.Type} (not a kind this version knows)", slot.Created, null, null, null),
    };

    private void NoteOpenedWith(int index, KeySlot slot)
    {
        OpenedWith = $"slot {index}: {Describe(index, slot).Description}";
        OpenedWithType = slot.Type;
    }
}
