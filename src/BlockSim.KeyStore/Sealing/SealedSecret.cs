using System.Security.Cryptography;

namespace BlockSim.KeyStore.Sealing;

/// <summary>
/// A 32-byte secret sealed under the root key (AES-256-GCM; the associated data names its purpose), so it
/// survives a re-key of the root: sealed again under the new root, it stays the same secret.
/// </summary>
internal sealed class SealedSecret
{
    public byte[] Nonce { get; set; } = [];

    /// <summary>32 bytes of ciphertext then the 16-byte tag.</summary>
    public byte[] Sealed { get; set; } = [];

    public static SealedSecret Seal(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> rootKey, ReadOnlySpan<byte> purpose)
    {
        var result = new SealedSecret { Nonce = RandomNumberGenerator.GetBytes(12), Sealed = new byte[48] };
        using var gcm = new AesGcm(rootKey, 16);
        gcm.Encrypt(result.Nonce, secret, result.Sealed.AsSpan(0, 32), result.Sealed.AsSpan(32), purpose);
        return result;
    }

    /// <summary>Unseals into <paramref name="secret"/> (32 bytes); a wrong root or an altered value throws.</summary>
    public void Unseal(ReadOnlySpan<byte> rootKey, ReadOnlySpan<byte> purpose, Span<byte> secret)
    {
        if (Nonce.Length != 12 || Sealed.Length != 48)
        {
            throw new KeyStoreException(KeyStoreErrors.StoreDamaged, "The store's sealed audit key has the wrong size; restore the store from a backup.");
        }

        using var gcm = new AesGcm(rootKey, 16);
        gcm.Decrypt(Nonce, Sealed.AsSpan(0, 32), Sealed.AsSpan(32), secret, purpose);
    }
}
