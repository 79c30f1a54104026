using System.Runtime.Intrinsics;

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

    public abstract void Dispose();
}
