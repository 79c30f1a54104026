using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace BlockSim.KeyStore.Sealing;

/// <summary>One keyslot: the root key wrapped (AES-256-GCM) under a key an <see cref="Unlocker"/> derives.</summary>
internal sealed class KeySlot
{
    public string Type { get; set; } = "";

    public byte[] Salt { get; set; } = [];

    public int Argon2MemoryKiB { get; set; }

    public int Argon2Iterations { get; set; }

    public int Argon2Parallelism { get; set; }

    public byte[] Nonce { get; set; } = [];

    /// <summary>Wrapped root key: 32 bytes of ciphertext then the 16-byte tag.</summary>
    public byte[] WrappedRootKey { get; set; } = [];

    /// <summary>
    /// A key-file slot's key file, relative to the store directory (so the data directory can move): a
    /// re-key writes a new key file there. Not secret. Null for passphrase slots and slots written before
    /// re-keying existed; a key file is only ever replaced after it has been shown to open this slot.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>A kmip slot's key manager and the slot key it wrapped; null for other slots.</summary>
    public KmipSlot? Kmip { get; set; }

    /// <summary>When the slot was added (null in slots written before slots were listed).</summary>
    public DateTimeOffset? Created { get; set; }
}

/// <summary>
/// The store file as written: keyslots, the body (JSON bytes, base64), and an HMAC-SHA256 of the body under a
/// subkey of the root key. Slots are public; only the body's MAC needs the root key to check.
/// </summary>
internal sealed class StoreFile
{
    public const string CurrentFormat = "blocksim-keystore/1";

    public string Format { get; set; } = CurrentFormat;

    public List<KeySlot> Slots { get; set; } = [];

    public byte[] Body { get; set; } = [];

    public byte[] Mac { get; set; } = [];

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// Unwraps the root key with the first slot of the unlocker's type that opens, and returns that slot's
    /// index. A slot whose key manager fails (down, or refusing) is passed over for the next; when none
    /// opens, that failure is the one reported, since it says more than "does not open".
    /// </summary>
    public int UnwrapRootKey(Unlocker unlocker, Span<byte> rootKey)
    {
        KeyStoreException? failure = null;
        for (var index = 0; index < Slots.Count; index++)
        {
            try
            {
                if (Slots[index].Type == unlocker.SlotType && TryUnwrap(unlocker, Slots[index], rootKey))
                {
                    return index;
                }
            }
            catch (KeyStoreException e) when (unlocker is KmipUnlocker)
            {
                failure ??= e;
            }
        }

        throw failure ?? new KeyStoreException(
            KeyStoreErrors.UnlockFailed,
            unlocker is PassphraseUnlocker
                ? "Wrong passphrase for the key store, or no passphrase slot for it: destroying a key removes a passphrase slot unless the store was opened with that passphrase."
                : unlocker is KmipUnlocker
                ? "The key store has no kmip slot that its KMIP key opens."
                : "This key file does not open the key store. Destroying a key replaces the store's key file, so a copy of the store made before a destruction opens only with the key file of its time, and the current key file only opens the current store.");
    }

    /// <summary>True when <paramref name="unlocker"/> opens <paramref name="slot"/>; the root key is then in <paramref name="rootKey"/>.</summary>
    public static bool TryUnwrap(Unlocker unlocker, KeySlot slot, Span<byte> rootKey)
    {
        if (slot.Type != unlocker.SlotType || !IsWellFormed(slot))
        {
            return false;
        }

        Span<byte> slotKey = stackalloc byte[32];
        try
        {
            unlocker.DeriveSlotKey(slot, slotKey);
            using var gcm = new AesGcm(slotKey, 16);
            gcm.Decrypt(slot.Nonce, slot.WrappedRootKey.AsSpan(0, 32), slot.WrappedRootKey.AsSpan(32, 16), rootKey, "blocksim-root-key"u8);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            CryptographicOperations.ZeroMemory(rootKey);
            return false; // not this slot
        }
        finally
        {
            CryptographicOperations.ZeroMemory(slotKey);
        }
    }

    /// <summary>
    /// Slots are not covered by the body's MAC (they unlock the key that checks it), so a damaged or hostile
    /// copy could hold any values: a slot with wrong-sized fields, or Argon2 costs that would exhaust memory
    /// or time, is skipped like one that does not open.
    /// </summary>
    private static bool IsWellFormed(KeySlot slot) =>
        slot.Nonce is { Length: 12 }
        && slot.WrappedRootKey is { Length: 48 }
        && slot.Salt is { Length: >= 16 and <= 64 }
        && (slot.Type != KeySlotTypes.Kmip || slot.Kmip is { } kmip && kmip.IsWellFormed())
        && (slot.Type != KeySlotTypes.Passphrase || slot.Argon2MemoryKiB is >= 8 and <= 1024 * 1024 && slot.Argon2Iterations is >= 1 and <= 64 && slot.Argon2Parallelism is >= 1 and <= 64);

    public static KeySlot Seal(Unlocker unlocker, ReadOnlySpan<byte> rootKey)
    {
        var slot = unlocker.NewSlot();
        slot.Created = DateTimeOffset.UtcNow;
        Span<byte> slotKey = stackalloc byte[32];
        try
        {
            unlocker.DeriveSlotKey(slot, slotKey);
            return Wrap(slot, slotKey, rootKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(slotKey);
        }
    }

    /// <summary>
    /// A key-file slot for a key file that is not on disk yet (a re-key seals the new root for the new key
    /// file before writing it, so the store and the key file can be committed in a crash-safe order).
    /// </summary>
    public static KeySlot SealForKeyFile(ReadOnlySpan<byte> keyFileSecret, ReadOnlySpan<byte> rootKey)
    {
        var slot = KeyFileUnlocker.NewKeyFileSlot();
        Span<byte> slotKey = stackalloc byte[32];
        try
        {
            KeyFileUnlocker.DeriveSlotKey(keyFileSecret, slot, slotKey);
            return Wrap(slot, slotKey, rootKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(slotKey);
        }
    }

    private static KeySlot Wrap(KeySlot slot, ReadOnlySpan<byte> slotKey, ReadOnlySpan<byte> rootKey)
    {
        slot.Nonce = RandomNumberGenerator.GetBytes(12);
        slot.WrappedRootKey = new byte[48];
        using var gcm = new AesGcm(slotKey, 16);
        gcm.Encrypt(slot.Nonce, rootKey, slot.WrappedRootKey.AsSpan(0, 32), slot.WrappedRootKey.AsSpan(32, 16), "blocksim-root-key"u8);
        return slot;
    }
}
