using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

using BlockSim.Storage.Volumes;

namespace BlockSim.Storage.Tests;

/// <summary>
/// TESTS ONLY: a volume key provider without the key store (the storage layer must not depend on it). One
/// 32-byte master key in a file (0600) wraps volume keys with AES-256-GCM, bound to volume id and owner, in
/// the key store's blob shape. The daemon uses the sealed key store instead.
/// </summary>
public sealed class TestKeyProvider : IVolumeKeyProvider
{
    public const string KeyId = "test-only";
    private const uint KeyVersion = 1;
    private const int VolumeKeySize = 64;
    private readonly string _masterKeyPath;

    public TestKeyProvider(string masterKeyPath)
    {
        _masterKeyPath = masterKeyPath;
    }

    /// <summary>Creates the master key file (0600) if it does not exist yet.</summary>
    public static TestKeyProvider OpenOrCreate(string masterKeyPath)
    {
        if (!File.Exists(masterKeyPath))
        {
            var key = RandomNumberGenerator.GetBytes(32);
            try
            {
                var options = new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                };
                using var file = new FileStream(masterKeyPath, options);
                file.Write(key);
                file.Flush(flushToDisk: true);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }

        return new TestKeyProvider(masterKeyPath);
    }

    public WrappedVolumeKey GenerateVolumeKey(Guid volumeId, string owner)
    {
        Span<byte> key = stackalloc byte[VolumeKeySize];
        try
        {
            do
            {
                RandomNumberGenerator.Fill(key);
            }
            while (CryptographicOperations.FixedTimeEquals(key[..32], key[32..]));

            return new WrappedVolumeKey(KeyId, Wrap(volumeId, owner, key));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    public void UnwrapVolumeKey(Guid volumeId, string owner, WrappedVolumeKey wrapped, Span<byte> key)
    {
        var blob = wrapped.Blob;
        var header = 4 + 1 + 1 + KeyId.Length + 4;
        if (wrapped.KeyId != KeyId || blob.Length != header + 12 + VolumeKeySize + 16 || !blob.AsSpan(0, 4).SequenceEqual("BSWK"u8))
        {
            throw new VolumeKeyException($"The volume's key is wrapped under key '{wrapped.KeyId}', which the test key provider does not hold.");
        }

        Span<byte> master = stackalloc byte[32];
        try
        {
            LoadMaster(master);
            using var gcm = new AesGcm(master, 16);
            var nonce = blob.AsSpan(header, 12);
            var ciphertext = blob.AsSpan(header + 12, VolumeKeySize);
            var tag = blob.AsSpan(header + 12 + VolumeKeySize, 16);
            gcm.Decrypt(nonce, ciphertext, tag, key, AssociatedData(volumeId, owner));
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new VolumeKeyException(
                $"The key of volume {volumeId} does not unwrap with the test master key in {_masterKeyPath}: wrong master key file, or the header was copied from another volume.", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(master);
        }

        if (CryptographicOperations.FixedTimeEquals(key[..32], key[32..]))
        {
            CryptographicOperations.ZeroMemory(key);
            throw new VolumeKeyException($"The unwrapped key of volume {volumeId} has equal halves; refusing it.");
        }
    }

    private byte[] Wrap(Guid volumeId, string owner, ReadOnlySpan<byte> key)
    {
        var keyId = Encoding.ASCII.GetBytes(KeyId);
        var header = 4 + 1 + 1 + keyId.Length + 4;
        var blob = new byte[header + 12 + VolumeKeySize + 16];
        "BSWK"u8.CopyTo(blob);
        blob[4] = 1;
        blob[5] = (byte)keyId.Length;
        keyId.CopyTo(blob, 6);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(6 + keyId.Length), KeyVersion);
        RandomNumberGenerator.Fill(blob.AsSpan(header, 12));
        Span<byte> master = stackalloc byte[32];
        try
        {
            LoadMaster(master);
            using var gcm = new AesGcm(master, 16);
            gcm.Encrypt(blob.AsSpan(header, 12), key, blob.AsSpan(header + 12, VolumeKeySize), blob.AsSpan(header + 12 + VolumeKeySize, 16), AssociatedData(volumeId, owner));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(master);
        }

        return blob;
    }

    /// <summary>Canonical JSON (sorted keys, no spaces) of what the wrapped key is bound to.</summary>
    private static byte[] AssociatedData(Guid volumeId, string owner) => Encoding.UTF8.GetBytes(
        $"{{\"algorithm\":\"AES-256-GCM\",\"encryptionContext\":{{\"volumeId\":\"{volumeId}\"}},\"formatVersion\":1,\"keyId\":\"{KeyId}\",\"keyVersion\":{KeyVersion},\"owner\":{System.Text.Json.JsonSerializer.Serialize(owner)},\"purpose\":\"blocksim-volume-xts-key\",\"volumeId\":\"{volumeId}\"}}");

    private void LoadMaster(Span<byte> master)
    {
        using var file = File.OpenHandle(_masterKeyPath);
        if (RandomAccess.GetLength(file) != 32 || RandomAccess.Read(file, master, 0) != 32)
        {
            throw new VolumeKeyException($"{_masterKeyPath} is not a 32-byte test master key.");
        }
    }
}
