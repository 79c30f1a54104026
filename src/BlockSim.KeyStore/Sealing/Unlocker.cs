using System.Security.Cryptography;
using System.Text;
using Konscious.Security.Cryptography;

namespace BlockSim.KeyStore.Sealing;

/// <summary>
/// Something that can open a keyslot (like a LUKS keyslot): it turns the slot's public parameters into
/// the key that wraps the store's root key.
/// </summary>
public abstract class Unlocker
{
    internal abstract string SlotType { get; }

    /// <summary>Derives the 32-byte slot key into <paramref name="slotKey"/>.</summary>
    internal abstract void DeriveSlotKey(KeySlot slot, Span<byte> slotKey);

    /// <summary>Fills in new slot parameters (salt, cost) for a slot this unlocker will open.</summary>
    internal abstract KeySlot NewSlot();
}

/// <summary>A 32-byte key file (the embedded default), through HKDF-SHA256.</summary>
public sealed class KeyFileUnlocker(string path) : Unlocker
{
    public string Path { get; } = path;

    internal override string SlotType => "keyfile";

    /// <summary>Creates a random key file readable only by its owner (0600); refuses to overwrite one.</summary>
    public static KeyFileUnlocker Create(string path)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        try
        {
            DurableFile.CreateNew(path, key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }

        return new KeyFileUnlocker(path);
    }

    internal override KeySlot NewSlot() => new() { Type = SlotType, Salt = RandomNumberGenerator.GetBytes(16) };

    internal override void DeriveSlotKey(KeySlot slot, Span<byte> slotKey)
    {
        Span<byte> material = stackalloc byte[32];
        try
        {
            using var file = File.OpenHandle(Path);
            if (RandomAccess.GetLength(file) != 32 || RandomAccess.Read(file, material, 0) != 32)
            {
                throw new KeyStoreException("InvalidKeyFile", $"{Path} is not a 32-byte key-store key file.");
            }

            HKDF.DeriveKey(HashAlgorithmName.SHA256, material, slotKey, slot.Salt, "blocksim-keystore-slot"u8);
        }
        catch (FileNotFoundException e)
        {
            throw new KeyStoreException("InvalidKeyFile", $"The key file {Path} does not exist.", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }
    }
}

/// <summary>A passphrase, through Argon2id (by default m = 64 MiB, t = 3, p = 4, 16-byte salt).</summary>
public sealed class PassphraseUnlocker(string passphrase, int memoryKiB = 65536, int iterations = 3, int parallelism = 4) : Unlocker
{
    internal override string SlotType => "passphrase";

    internal override KeySlot NewSlot() => new()
    {
        Type = SlotType,
        Salt = RandomNumberGenerator.GetBytes(16),
        Argon2MemoryKiB = memoryKiB,
        Argon2Iterations = iterations,
        Argon2Parallelism = parallelism,
    };

    internal override void DeriveSlotKey(KeySlot slot, Span<byte> slotKey)
    {
        var secret = Encoding.UTF8.GetBytes(passphrase);
        try
        {
            using var argon = new Argon2id(secret)
            {
                Salt = slot.Salt,
                MemorySize = slot.Argon2MemoryKiB,
                Iterations = slot.Argon2Iterations,
                DegreeOfParallelism = slot.Argon2Parallelism,
            };
            var derived = argon.GetBytes(32);
            derived.CopyTo(slotKey);
            CryptographicOperations.ZeroMemory(derived);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    // The passphrase never appears in logs or debugger views.
    public override string ToString() => "PassphraseUnlocker(***)";
}
