using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using BlockSim.Crypto.Xts.Vaes;

namespace BlockSim.Crypto.Xts;

/// <summary>
/// XTS-AES-256 on VAES and VPCLMULQDQ at 256 bits: whole groups of 16 blocks go through the generated
/// <see cref="VaesKernel"/>, two blocks per AES instruction; tweak encryption and the blocks after the last
/// whole group go through the AES-NI tier, so both give the same bytes by construction of the split.
/// </summary>
[SkipLocalsInit]
internal sealed unsafe class VaesXtsEngine : XtsEngine
{
    // Below this the kernel's start (eight tweak pairs in a chain, the call) costs more than it saves:
    // measured at 512 bytes it was 10-20% slower than the AES-NI tier, from 1 KiB on faster.
    private const int SmallestKernelRun = 4 * VaesKernel.GroupBytes;

    private readonly AesNiXtsEngine _aesNi;

    // Key1's encryption schedule then its inverse-cipher schedule, each round key in both lanes, each
    // schedule followed by the reduction constant, in the layout the kernel reads.
    private readonly SecretMemory _keys = new(2 * VaesKernel.KeyBytes);

    public VaesXtsEngine(ReadOnlySpan<byte> key)
    {
        _aesNi = new AesNiXtsEngine(key);
        Broadcast(_aesNi.Key1Schedule(decrypt: false), _keys.Pointer);
        Broadcast(_aesNi.Key1Schedule(decrypt: true), _keys.Pointer + VaesKernel.KeyBytes);
    }

    public override XtsTier Tier => XtsTier.Vaes256;

    public override void EncryptTweaks(Span<byte> tweaks) => _aesNi.EncryptTweaks(tweaks);

    public override void EncryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak)
    {
        var done = Groups(VaesKernel.Encrypt, _keys.Pointer, source, destination, ref tweak);
        _aesNi.EncryptBlocks(source[done..], destination[done..], ref tweak);
    }

    public override void DecryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak)
    {
        var done = Groups(VaesKernel.Decrypt, _keys.Pointer + VaesKernel.KeyBytes, source, destination, ref tweak);
        _aesNi.DecryptBlocks(source[done..], destination[done..], ref tweak);
    }

    public override void Dispose()
    {
        _keys.Dispose();
        _aesNi.Dispose();
    }

    /// <summary>Runs the whole 16-block groups through the kernel; returns the bytes done and advances the tweak.</summary>
    private static int Groups(
        delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, byte*, void> kernel,
        byte* keys,
        ReadOnlySpan<byte> source,
        Span<byte> destination,
        ref Vector128<byte> tweak)
    {
        var groups = source.Length / VaesKernel.GroupBytes;
        if (source.Length < SmallestKernelRun)
        {
            return 0;
        }

        // The tweak pair and the scratch hold tweak values, which are secret: the kernel zeroes the scratch,
        // the pair is zeroed here.
        var pair = stackalloc Vector128<byte>[2];
        var scratch = stackalloc byte[VaesKernel.ScratchBytes];
        pair[0] = tweak;
        pair[1] = Gf128.MulX(tweak);
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            kernel(keys, src, dst, (nuint)groups, (byte*)pair, scratch);
        }

        tweak = pair[0];
        pair[0] = default;
        pair[1] = default;
        return groups * VaesKernel.GroupBytes;
    }

    private static void Broadcast(ReadOnlySpan<Vector128<byte>> schedule, byte* destination)
    {
        var lanes = (Vector128<byte>*)destination;
        for (var i = 0; i < schedule.Length; i++)
        {
            lanes[2 * i] = schedule[i];
            lanes[(2 * i) + 1] = schedule[i];
        }

        var constant = Vector128.Create(0x87UL, 0UL).AsByte();
        lanes[2 * schedule.Length] = constant;
        lanes[(2 * schedule.Length) + 1] = constant;
    }
}
