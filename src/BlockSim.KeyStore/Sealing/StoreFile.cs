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

    /// <summary>Unwraps the root key with the first slot of the unlocker's type that opens.</summary>
    public void UnwrapRootKey(Unlocker unlocker, Span<byte> rootKey)
    {
        Span<byte> slotKey = stackalloc byte[32];
        try
        {
            foreach (var slot in Slots.Where(s => s.Type == unlocker.SlotType && IsWellFormed(s)))
            {
                unlocker.DeriveSlotKey(slot, slotKey);
                try
                {
                    using var gcm = new AesGcm(slotKey, 16);
                    gcm.Decrypt(slot.Nonce, slot.WrappedRootKey.AsSpan(0, 32), slot.WrappedRootKey.AsSpan(32, 16), rootKey, "blocksim-root-key"u8);
                    return;
                }
                catch (AuthenticationTagMismatchException)
                {
                    // Not this slot: try the next one of the same type.
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(slotKey);
        }

        throw new KeyStoreException(
            "UnlockFailed",
            unlocker is PassphraseUnlocker ? "Wrong passphrase for the key store." : "This key file does not open the key store.");
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
        && (slot.Type != "passphrase" || slot.Argon2MemoryKiB is >= 8 and <= 1024 * 1024 && slot.Argon2Iterations is >= 1 and <= 64 && slot.Argon2Parallelism is >= 1 and <= 64);

    public static KeySlot Seal(Unlocker unlocker, ReadOnlySpan<byte> rootKey)
    {
        var slot = unlocker.NewSlot();
        Span<byte> slotKey = stackalloc byte[32];
        try
        {
            unlocker.DeriveSlotKey(slot, slotKey);
            slot.Nonce = RandomNumberGenerator.GetBytes(12);
            slot.WrappedRootKey = new byte[48];
            using var gcm = new AesGcm(slotKey, 16);
            gcm.Encrypt(slot.Nonce, rootKey, slot.WrappedRootKey.AsSpan(0, 32), slot.WrappedRootKey.AsSpan(32, 16), "blocksim-root-key"u8);
            return slot;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(slotKey);
        }
    }
}
