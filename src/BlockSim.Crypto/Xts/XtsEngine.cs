using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;

namespace BlockSim.Crypto.Xts;

/// <summary>
/// What a tier implements: whole 16-byte blocks of one data unit with a running tweak, and batches of
/// tweak encryptions. Ciphertext stealing, sectors and argument checks live once, in <see cref="XtsAes256"/>.
/// </summary>
internal abstract class XtsEngine : IDisposable
{
    /// <summary>How many tweaks <see cref="EncryptTweaks"/> takes at most in one call.</summary>
    public const int TweakBatch = 16;

    public abstract XtsTier Tier { get; }

    /// <summary>
    /// Encrypts <paramref name="tweaks"/> in place with Key2 (each 16 bytes, plain AES-256), turning
    /// tweak values into the T that the first block of each data unit is masked with.
    /// </summary>
    public abstract void EncryptTweaks(Span<byte> tweaks);

    /// <summary>
    /// XTS-encrypts whole blocks (length a multiple of 16) of one data unit. <paramref name="tweak"/> is the
    /// encrypted tweak of the first block on entry and that of the block after the last on return.
    /// <paramref name="source"/> and <paramref name="destination"/> are the same memory or do not overlap.
    /// </summary>
    public abstract void EncryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak);

    /// <inheritdoc cref="EncryptBlocks"/>
    public abstract void DecryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak);

    /// <summary>
    /// XTS over whole blocks of one data unit given its tweak value before encryption (a sector number, for
    /// a single sector), so a tier may encrypt the tweak inside its bulk loop, overlapping that chain of
    /// rounds with work that does not depend on it. This one encrypts it first, then runs the blocks.
    /// </summary>
    public virtual void CryptBlocksFromTweakValue(ReadOnlySpan<byte> source, Span<byte> destination, Vector128<byte> tweakValue, bool decrypt)
    {
        var tweak = tweakValue;
        var bytes = MemoryMarshal.AsBytes(new Span<Vector128<byte>>(ref tweak));
        EncryptTweaks(bytes);
        if (decrypt)
        {
            DecryptBlocks(source, destination, ref tweak);
        }
        else
        {
            EncryptBlocks(source, destination, ref tweak);
        }

        CryptographicOperations.ZeroMemory(bytes);
    }

    public abstract void Dispose();
}
