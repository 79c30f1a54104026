using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BlockSim.Crypto.Xts.Vaes;

namespace BlockSim.Crypto.Xts;

/// <summary>
/// XTS-AES-256 on VAES and VPCLMULQDQ with AVX-512 (EVEX encoding, 32 registers), at 256 or 512 bits: whole
/// vectors (2 or 4 blocks) go through the generated <see cref="EvexVaesKernel"/>, eight vectors in flight
/// with the round keys in registers; tweak encryption and the one to three blocks after the last whole
/// vector go through the AES-NI tier, so both give the same bytes by construction of the split.
/// </summary>
[SkipLocalsInit]
internal sealed unsafe class EvexVaesXtsEngine : XtsEngine
{
    private readonly AesNiXtsEngine _aesNi;
    private readonly VectorWidth _width;
    private readonly int _vectorBytes;
    private readonly int _smallestKernelRun;
    private readonly delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, void> _encrypt;
    private readonly delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, void> _decrypt;
    private readonly delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, void> _encryptFromValue;
    private readonly delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, void> _decryptFromValue;

    // Key1's encryption schedule then its inverse-cipher schedule, each followed by the kernel's constants,
    // in the layout the kernel reads.
    private readonly SecretMemory _keys = new(2 * EvexVaesKernel.KeyBytes);

    public EvexVaesXtsEngine(ReadOnlySpan<byte> key, VectorWidth width)
    {
        _width = width;
        _vectorBytes = width == VectorWidth.Bits512 ? 64 : 32;
        _smallestKernelRun = SmallestKernelRun(width);
        _encrypt = EvexVaesKernel.Kernel(width, decrypt: false, encryptsTweak: false);
        _decrypt = EvexVaesKernel.Kernel(width, decrypt: true, encryptsTweak: false);
        _encryptFromValue = EvexVaesKernel.Kernel(width, decrypt: false, encryptsTweak: true);
        _decryptFromValue = EvexVaesKernel.Kernel(width, decrypt: true, encryptsTweak: true);
        _aesNi = new AesNiXtsEngine(key);
        Lay(_aesNi.Key1Schedule(decrypt: false), _aesNi.Key2Schedule(), _keys.Pointer);
        Lay(_aesNi.Key1Schedule(decrypt: true), _aesNi.Key2Schedule(), _keys.Pointer + EvexVaesKernel.KeyBytes);
    }

    public override XtsTier Tier => _width == VectorWidth.Bits512 ? XtsTier.Vaes512 : XtsTier.Vaes256x;

    /// <summary>
    /// Below this many bytes the kernel's start (15 key loads, 8 tweak vectors, clearing 32 registers) costs
    /// as much as it saves: on Zen 5 both kernels beat the AES-NI tier from two vectors on (128 and 64 bytes).
    /// </summary>
    internal static int SmallestKernelRun(VectorWidth width) => width == VectorWidth.Bits512 ? 128 : 64;

    public override void EncryptTweaks(Span<byte> tweaks) => _aesNi.EncryptTweaks(tweaks);

    public override void EncryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak) =>
        Run(_encrypt, source, destination, ref tweak, decrypt: false);

    public override void DecryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak) =>
        Run(_decrypt, source, destination, ref tweak, decrypt: true);

    public override void CryptBlocksFromTweakValue(ReadOnlySpan<byte> source, Span<byte> destination, Vector128<byte> tweakValue, bool decrypt)
    {
        if (source.Length < _smallestKernelRun)
        {
            base.CryptBlocksFromTweakValue(source, destination, tweakValue, decrypt);
            return;
        }

        // The kernel encrypts the value in place and leaves the (secret) tweak after its last vector there.
        var tweak = tweakValue;
        Run(decrypt ? _decryptFromValue : _encryptFromValue, source, destination, ref tweak, decrypt);
        tweak = default;
    }

    public override void Dispose()
    {
        _keys.Dispose();
        _aesNi.Dispose();
    }

    /// <summary>Whole vectors through the kernel, then the one to three blocks after them through AES-NI.</summary>
    private void Run(
        delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, void> kernel,
        ReadOnlySpan<byte> source,
        Span<byte> destination,
        ref Vector128<byte> tweak,
        bool decrypt)
    {
        var done = 0;
        if (source.Length >= _smallestKernelRun)
        {
            var vectors = source.Length / _vectorBytes;
            var keys = decrypt ? _keys.Pointer + EvexVaesKernel.KeyBytes : _keys.Pointer;
            fixed (byte* src = source)
            fixed (byte* dst = destination)
            fixed (Vector128<byte>* t = &tweak)
            {
                kernel(keys, src, dst, (nuint)vectors, (byte*)t);
            }

            done = vectors * _vectorBytes;
        }

        if (done == source.Length)
        {
            return;
        }

        if (decrypt)
        {
            _aesNi.DecryptBlocks(source[done..], destination[done..], ref tweak);
        }
        else
        {
            _aesNi.EncryptBlocks(source[done..], destination[done..], ref tweak);
        }
    }

    private static void Lay(ReadOnlySpan<Vector128<byte>> schedule, ReadOnlySpan<Vector128<byte>> tweakSchedule, byte* destination)
    {
        schedule.CopyTo(new Span<Vector128<byte>>(destination, schedule.Length));
        tweakSchedule.CopyTo(new Span<Vector128<byte>>(destination + EvexVaesKernel.Key2Offset, tweakSchedule.Length));

        EvexVaesKernel.WriteConstants(destination);
    }
}
