using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace BlockSim.Crypto.Xts;

/// <summary>
/// Tweak arithmetic in GF(2^128) as IEEE 1619 defines it: the 16 tweak bytes are a little-endian
/// 128-bit integer, and multiplying by x is a left shift by one with x^128 = x^7 + x^2 + x + 1 (0x87).
/// Every function is branch-free, so the time taken never depends on the tweak.
/// </summary>
internal static class Gf128
{
    private const ulong Reduction = 0x87;

    /// <summary>t·x, on plain vector operations (works with or without hardware intrinsics).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> MulX(Vector128<byte> t)
    {
        // Each 64-bit half shifts left by one. The bit falling out of the low half (bit 63) enters the
        // high half; the bit falling out of the top (bit 127) comes back as 0x87. Arithmetic shifts give
        // all-ones masks from those sign bits; the shuffle puts bit 127's mask under dword 0 and bit 63's under dword 2.
        var signs = Vector128.ShiftRightArithmetic(t.AsInt32(), 31);
        var carries = Vector128.Shuffle(signs, Vector128.Create(3, 0, 1, 0)) & Vector128.Create((int)Reduction, 0, 1, 0);
        return (Vector128.ShiftLeft(t.AsUInt64(), 1).AsInt32() ^ carries).AsByte();
    }

    /// <summary>t·x on a tweak held as two 64-bit halves (the software tier's form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MulX(ref ulong lo, ref ulong hi)
    {
        var carry = 0 - (hi >> 63);        // all ones when bit 127 is set, without a branch
        hi = (hi << 1) | (lo >> 63);
        lo = (lo << 1) ^ (carry & Reduction);
    }
}
