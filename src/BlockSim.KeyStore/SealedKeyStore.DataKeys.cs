using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace BlockSim.KeyStore;

/// <summary>
/// Envelope encryption. A wrapped data key: magic "BSWK", format 1, key id, key version, 12-byte nonce,
/// ciphertext, 16-byte tag (AES-256-GCM). The associated data is canonical JSON (sorted keys) of format,
/// algorithm, key id, key version, purpose and the encryption context, so the context must match exactly.
/// </summary>
public sealed partial class SealedKeyStore
{
    private const byte BlobFormat = 1;

    public byte[] GenerateDataKeyWithoutPlaintext(string keyIdOrAlias, IReadOnlyDictionary<string, string> encryptionContext, int bytes, KeyRequestContext context)
    {
        if (bytes is < 16 or > 1024)
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"A data key is 16 to 1024 bytes; asked for {bytes}.");
        }

        return Request<byte[]>("GenerateDataKeyWithoutPlaintext", context, keyIdOrAlias, encryptionContext, body =>
        {
            var key = Find(body, keyIdOrAlias);
            Authorize(body, key, "GenerateDataKey", context, encryptionContext);
            RequireState(key, KeyState.Enabled);
            var version = key.Versions.MaxBy(v => v.Version)!;
            var plaintext = GC.AllocateArray<byte>(bytes, pinned: true);
            try
            {
                do
                {
                    RandomNumberGenerator.Fill(plaintext);
                }
                while (bytes == 64 && CryptographicOperations.FixedTimeEquals(plaintext.AsSpan(0, 32), plaintext.AsSpan(32))); // XTS halves must differ

                return (Wrap(key, version, plaintext, encryptionContext), false, key.KeyId, version.Version);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }
        });
    }

    public void Decrypt(byte[] wrapped, IReadOnlyDictionary<string, string> encryptionContext, Span<byte> plaintext, KeyRequestContext context)
    {
        var (keyId, version, _, _, _) = ParseBlob(wrapped);
        var result = Request<byte[]>("Decrypt", context, keyId, encryptionContext, body =>
        {
            var key = Find(body, keyId);
            Authorize(body, key, "Decrypt", context, encryptionContext);
            return (Unwrap(key, wrapped, encryptionContext), false, key.KeyId, version);
        }, discard: b => CryptographicOperations.ZeroMemory(b));
        try
        {
            if (result.Length != plaintext.Length)
            {
                throw new KeyStoreException(KeyStoreErrors.Validation, $"The data key is {result.Length} bytes; the buffer given is {plaintext.Length}.");
            }

            result.CopyTo(plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(result);
        }
    }

    public byte[] ReEncrypt(byte[] wrapped, IReadOnlyDictionary<string, string> encryptionContext, string? destinationKeyIdOrAlias, KeyRequestContext context)
    {
        var (sourceKeyId, _, _, _, _) = ParseBlob(wrapped);
        return Request<byte[]>("ReEncrypt", context, sourceKeyId, encryptionContext, body =>
        {
            var source = Find(body, sourceKeyId);
            var destination = Find(body, destinationKeyIdOrAlias ?? sourceKeyId);
            Authorize(body, source, "ReEncrypt", context, encryptionContext);
            Authorize(body, destination, "ReEncrypt", context, encryptionContext);
            RequireState(destination, KeyState.Enabled);
            var plaintext = Unwrap(source, wrapped, encryptionContext);
            try
            {
                var version = destination.Versions.MaxBy(v => v.Version)!;
                return (Wrap(destination, version, plaintext, encryptionContext), false, destination.KeyId, version.Version);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }
        });
    }

    /// <summary>The key id and version a wrapped key names (no secret needed): for listings and re-wrap decisions.</summary>
    public static (string KeyId, int KeyVersion) InspectWrappedKey(byte[] wrapped)
    {
        var (keyId, version, _, _, _) = ParseBlob(wrapped);
        return (keyId, version);
    }

    private byte[] Wrap(MasterKey key, KeyMaterial version, ReadOnlySpan<byte> plaintext, IReadOnlyDictionary<string, string> encryptionContext)
    {
        var keyId = Encoding.ASCII.GetBytes(key.KeyId);
        var header = 4 + 1 + 1 + keyId.Length + 4;
        var blob = new byte[header + 12 + plaintext.Length + 16];
        "BSWK"u8.CopyTo(blob);
        blob[4] = BlobFormat;
        blob[5] = (byte)keyId.Length;
        keyId.CopyTo(blob, 6);
        BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(6 + keyId.Length), version.Version);
        RandomNumberGenerator.Fill(blob.AsSpan(header, 12));
        Span<byte> material = stackalloc byte[32];
        try
        {
            Unseal(key, version, material);
            using var gcm = new AesGcm(material, 16);
            gcm.Encrypt(blob.AsSpan(header, 12), plaintext, blob.AsSpan(header + 12, plaintext.Length), blob.AsSpan(header + 12 + plaintext.Length, 16), AssociatedData(key.KeyId, version.Version, encryptionContext));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }

        return blob;
    }

    /// <summary>Unwraps into a new pinned array the caller zeroes.</summary>
    private byte[] Unwrap(MasterKey key, byte[] wrapped, IReadOnlyDictionary<string, string> encryptionContext)
    {
        RequireState(key, KeyState.Enabled);
        var (_, versionNumber, nonce, ciphertext, tag) = ParseBlob(wrapped);
        if (versionNumber < key.MinimumDecryptVersion)
        {
            throw new KeyStoreException(KeyStoreErrors.KmsInvalidState, $"Key {key.KeyId} no longer decrypts with version {versionNumber} (minimum decrypt version {key.MinimumDecryptVersion}); re-wrap with a newer version first.");
        }

        var version = key.Versions.FirstOrDefault(v => v.Version == versionNumber)
            ?? throw new KeyStoreException(KeyStoreErrors.InvalidCiphertext, $"Key {key.KeyId} has no version {versionNumber}.");
        var plaintext = GC.AllocateArray<byte>(ciphertext.Length, pinned: true);
        Span<byte> material = stackalloc byte[32];
        try
        {
            Unseal(key, version, material);
            using var gcm = new AesGcm(material, 16);
            gcm.Decrypt(nonce, ciphertext, tag, plaintext, AssociatedData(key.KeyId, versionNumber, encryptionContext));
        }
        catch (AuthenticationTagMismatchException e)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            var fields = encryptionContext.Count == 0 ? "none" : string.Join(", ", encryptionContext.Keys.Order());
            throw new KeyStoreException(
                KeyStoreErrors.InvalidCiphertext,
                $"The wrapped key does not decrypt with key {key.KeyId} version {versionNumber} and the encryption context given (fields: {fields}): the context differs from the one it was wrapped with, or the blob was altered.", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }

        if (plaintext.Length == 64 && CryptographicOperations.FixedTimeEquals(plaintext.AsSpan(0, 32), plaintext.AsSpan(32)))
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw new KeyStoreException(KeyStoreErrors.InvalidCiphertext, "The unwrapped XTS key has equal halves; refusing it.");
        }

        return plaintext;
    }

    private static (string KeyId, int Version, byte[] Nonce, byte[] Ciphertext, byte[] Tag) ParseBlob(byte[] blob)
    {
        if (blob.Length < 6 || !blob.AsSpan(0, 4).SequenceEqual("BSWK"u8) || blob[4] != BlobFormat)
        {
            throw new KeyStoreException(KeyStoreErrors.InvalidCiphertext, "This is not a BlockSim wrapped key (bad magic or format).");
        }

        var idLength = blob[5];
        var header = 6 + idLength + 4;
        if (blob.Length < header + 12 + 16 + 1)
        {
            throw new KeyStoreException(KeyStoreErrors.InvalidCiphertext, "The wrapped key is truncated.");
        }

        var keyId = Encoding.ASCII.GetString(blob, 6, idLength);
        var version = BinaryPrimitives.ReadInt32LittleEndian(blob.AsSpan(6 + idLength));
        var ciphertextLength = blob.Length - header - 12 - 16;
        return (keyId, version, blob[header..(header + 12)], blob[(header + 12)..(header + 12 + ciphertextLength)], blob[^16..]);
    }

    /// <summary>Canonical JSON: sorted keys, no whitespace; the encryption context likewise sorted.</summary>
    private static byte[] AssociatedData(string keyId, int version, IReadOnlyDictionary<string, string> encryptionContext)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("algorithm", "AES-256-GCM");
            json.WriteStartObject("encryptionContext");
            foreach (var (name, value) in encryptionContext.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                json.WriteString(name, value);
            }

            json.WriteEndObject();
            json.WriteNumber("formatVersion", BlobFormat);
            json.WriteString("keyId", keyId);
            json.WriteNumber("keyVersion", version);
            json.WriteString("purpose", "blocksim-data-key");
            json.WriteEndObject();
        }

        return stream.ToArray();
    }
}
