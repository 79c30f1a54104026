using System.Security.Cryptography;
using System.Text;
using BlockSim.Storage.Durability;
using Konscious.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

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

/// <summary>
/// A 32-byte key file (the embedded default), through HKDF-SHA256. Whoever can read it can unseal the
/// store, so, as ssh does with a private key, a key file with any permission for its group or others is
/// refused (with its real mode and the chmod that fixes it) instead of being used.
/// </summary>
public sealed class KeyFileUnlocker(string path) : Unlocker
{
    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public string Path { get; } = path;

    internal override string SlotType => KeySlotTypes.KeyFile;

    /// <summary>Creates a random key file readable only by its owner (0600); refuses to overwrite one.</summary>
    public static KeyFileUnlocker Create(string path)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        try
        {
            DurableFile.CreateNew(path, key);
            DirectorySync.FlushParentOf(path); // a crash now must not lose the key file's name: the store would be sealed for good
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }

        return new KeyFileUnlocker(path);
    }

    /// <summary>The file's permission bits in octal as chmod takes them, e.g. "0600".</summary>
    public static string DescribeMode(string path) => Octal(File.GetUnixFileMode(path));

    internal override KeySlot NewSlot() => NewKeyFileSlot();

    internal static KeySlot NewKeyFileSlot() => new() { Type = KeySlotTypes.KeyFile, Salt = RandomNumberGenerator.GetBytes(16) };

    /// <summary>The slot key for a key file holding <paramref name="secret"/> (also used before a new key file is written).</summary>
    internal static void DeriveSlotKey(ReadOnlySpan<byte> secret, KeySlot slot, Span<byte> slotKey) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, slotKey, slot.Salt, "blocksim-keystore-slot"u8);

    internal override void DeriveSlotKey(KeySlot slot, Span<byte> slotKey)
    {
        Span<byte> material = stackalloc byte[32];
        try
        {
            using var file = OpenPrivate();
            if (RandomAccess.GetLength(file) != 32 || RandomAccess.Read(file, material, 0) != 32)
            {
                throw new KeyStoreException(KeyStoreErrors.InvalidKeyFile, $"{Path} is not a 32-byte key-store key file.");
            }

            DeriveSlotKey(material, slot, slotKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }
    }

    /// <summary>Opens the key file; a missing one, or one its group or others may use, is refused before a byte is read.</summary>
    private SafeFileHandle OpenPrivate()
    {
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(Path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KeyStoreException(KeyStoreErrors.KeyFileMissing, $"The key file {Path} is missing: a key store sealed by it cannot be opened without it. Put it back from a backup (chmod 600 {Path}).", e);
        }

        var mode = File.GetUnixFileMode(file);
        if ((mode & GroupOrOthers) != 0)
        {
            file.Dispose();
            throw new KeyStoreException(KeyStoreErrors.InsecureKeyFile, $"The key file {Path} has mode {Octal(mode)}: users other than its owner may read or change it, and it unseals the key store. Make it private with: chmod 600 {Path}");
        }

        return file;
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0');
}

/// <summary>A passphrase, through Argon2id (by default m = 64 MiB, t = 3, p = 4, 16-byte salt).</summary>
public sealed class PassphraseUnlocker(string passphrase, int memoryKiB = 65536, int iterations = 3, int parallelism = 4) : Unlocker
{
    internal override string SlotType => KeySlotTypes.Passphrase;

    internal override KeySlot NewSlot() => new()
    {
        Type = SlotType,
        Salt = RandomNumberGenerator.GetBytes(16),
        Argon2MemoryKiB = memoryKiB,
        Argon2Iterations = iterations,
        Argon2Parallelism = parallelism,
    };

    /// <summary>The same passphrase with <paramref name="slot"/>'s Argon2 cost, so re-sealing a slot never weakens it.</summary>
    internal PassphraseUnlocker WithCostOf(KeySlot slot) => new(passphrase, slot.Argon2MemoryKiB, slot.Argon2Iterations, slot.Argon2Parallelism);

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
