using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;

namespace BlockSim.Crypto.Xts.Bitsliced;

/// <summary>
/// AES-256 on <see cref="BitslicedState"/>: sixteen blocks per call, every step a fixed sequence of
/// shifts, masks, XORs and ANDs. Byte k of a block is bit k of its 16-bit chunk, k = 4·column + row.
/// </summary>
// Every stackalloc and local here is fully written before it is read (see ExpandKey), so skip the zeroing.
[SkipLocalsInit]
internal static unsafe class BitslicedAes
{
    public const int Rounds = 14;
    public const int RoundKeys = Rounds + 1;

    public static void Encrypt(ref BitslicedState s, BitslicedState* rk)
    {
        s.AddRoundKey(ref rk[0]);
        for (var r = 1; r < Rounds; r++)
        {
            BitslicedSBox.Forward(ref s);
            ShiftRows(ref s);
            MixColumns(ref s);
            s.AddRoundKey(ref rk[r]);
        }

        BitslicedSBox.Forward(ref s);
        ShiftRows(ref s);
        s.AddRoundKey(ref rk[Rounds]);
    }

    /// <summary>The straightforward inverse cipher (FIPS 197 §5.3), on the encryption round keys.</summary>
    public static void Decrypt(ref BitslicedState s, BitslicedState* rk)
    {
        s.AddRoundKey(ref rk[Rounds]);
        for (var r = Rounds - 1; r > 0; r--)
        {
            InverseShiftRows(ref s);
            BitslicedSBox.Inverse(ref s);
            s.AddRoundKey(ref rk[r]);
            InverseMixColumns(ref s);
        }

        InverseShiftRows(ref s);
        BitslicedSBox.Inverse(ref s);
        s.AddRoundKey(ref rk[0]);
    }

    /// <summary>
    /// The AES-256 key schedule (FIPS 197 §5.2), its SubWord done by the bitsliced S-box so the schedule
    /// is constant-time too; writes 15 round keys, each repeated in all 16 block slots.
    /// </summary>
    public static void ExpandKey(ReadOnlySpan<byte> key, BitslicedState* rk)
    {
        Span<byte> words = stackalloc byte[16 * RoundKeys];
        Span<byte> batch = stackalloc byte[BitslicedState.Bytes];
        Span<ushort> scratch = stackalloc ushort[128];
        Span<byte> temp = stackalloc byte[4];
        try
        {
            key.CopyTo(words);
            byte rcon = 1;
            for (var i = 8; i < 4 * RoundKeys; i++)
            {
                words.Slice(4 * (i - 1), 4).CopyTo(temp);
                if (i % 8 == 0)
                {
                    // RotWord, SubWord, Rcon. The schedule's shape depends only on i, never on the key.
                    var first = temp[0];
                    temp[0] = temp[1];
                    temp[1] = temp[2];
                    temp[2] = temp[3];
                    temp[3] = first;
                    SubWord(temp, batch, scratch);
                    temp[0] ^= rcon;
                    rcon = (byte)(rcon << 1);
                }
                else if (i % 8 == 4)
                {
                    SubWord(temp, batch, scratch);
                }

                for (var b = 0; b < 4; b++)
                {
                    words[(4 * i) + b] = (byte)(words[(4 * (i - 8)) + b] ^ temp[b]);
                }
            }

            for (var r = 0; r < RoundKeys; r++)
            {
                for (var j = 0; j < BitslicedState.Blocks; j++)
                {
                    words.Slice(16 * r, 16).CopyTo(batch[(16 * j)..]);
                }

                BitslicedState.Load(ref rk[r], batch, scratch);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(words);
            CryptographicOperations.ZeroMemory(batch);
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(scratch));
            CryptographicOperations.ZeroMemory(temp);
        }
    }

    /// <summary>The S-box applied to each byte of 16 blocks in place (exposed for the exhaustive S-box tests).</summary>
    internal static void SubBytes(Span<byte> blocks, bool inverse)
    {
        Span<ushort> scratch = stackalloc ushort[128];
        BitslicedState s = default;
        BitslicedState.Load(ref s, blocks, scratch);
        if (inverse)
        {
            BitslicedSBox.Inverse(ref s);
        }
        else
        {
            BitslicedSBox.Forward(ref s);
        }

        BitslicedState.Store(ref s, blocks, scratch);
    }

    private static void SubWord(Span<byte> word, Span<byte> batch, Span<ushort> scratch)
    {
        batch.Clear();
        word.CopyTo(batch);
        SubBytes(batch, inverse: false);
        batch[..4].CopyTo(word);
    }

    // Masks repeat every 16 bits: one copy per block chunk. Row r of the state is bits r, r+4, r+8, r+12.
    private static readonly Vector256<ulong> s_row0 = Vector256.Create(0x1111111111111111UL);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Masked(Vector256<ulong> v, ulong mask) => v & Vector256.Create(mask);

    /// <summary>Row r moves r columns left: new bit k = old bit (k + 4r) mod 16, row by row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> ShiftRows(Vector256<ulong> x) =>
        (x & s_row0)
        | Masked(x >>> 4, 0x0222022202220222) | Masked(x << 12, 0x2000200020002000)
        | Masked(x >>> 8, 0x0044004400440044) | Masked(x << 8, 0x4400440044004400)
        | Masked(x >>> 12, 0x0008000800080008) | Masked(x << 4, 0x8880888088808880);

    /// <summary>The inverse: new bit k = old bit (k - 4r) mod 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> InverseShiftRows(Vector256<ulong> x) =>
        (x & s_row0)
        | Masked(x << 4, 0x2220222022202220) | Masked(x >>> 12, 0x0002000200020002)
        | Masked(x << 8, 0x4400440044004400) | Masked(x >>> 8, 0x0044004400440044)
        | Masked(x << 12, 0x8000800080008000) | Masked(x >>> 4, 0x0888088808880888);

    /// <summary>Each byte takes the value of the byte one row down in its column (row 3 takes row 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> RotateRows1(Vector256<ulong> x) =>
        Masked(x >>> 1, 0x7777777777777777) | Masked(x << 3, 0x8888888888888888);

    /// <summary>Each byte takes the value of the byte two rows down in its column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> RotateRows2(Vector256<ulong> x) =>
        Masked(x >>> 2, 0x3333333333333333) | Masked(x << 2, 0xCCCCCCCCCCCCCCCC);

    private static void ShiftRows(ref BitslicedState s)
    {
        s.P0 = ShiftRows(s.P0);
        s.P1 = ShiftRows(s.P1);
        s.P2 = ShiftRows(s.P2);
        s.P3 = ShiftRows(s.P3);
        s.P4 = ShiftRows(s.P4);
        s.P5 = ShiftRows(s.P5);
        s.P6 = ShiftRows(s.P6);
        s.P7 = ShiftRows(s.P7);
    }

    private static void InverseShiftRows(ref BitslicedState s)
    {
        s.P0 = InverseShiftRows(s.P0);
        s.P1 = InverseShiftRows(s.P1);
        s.P2 = InverseShiftRows(s.P2);
        s.P3 = InverseShiftRows(s.P3);
        s.P4 = InverseShiftRows(s.P4);
        s.P5 = InverseShiftRows(s.P5);
        s.P6 = InverseShiftRows(s.P6);
        s.P7 = InverseShiftRows(s.P7);
    }

    /// <summary>
    /// b_r = 2a_r ^ 3a_{r+1} ^ a_{r+2} ^ a_{r+3}, rewritten as b_r = a_r ^ t ^ 2(a_r ^ a_{r+1}) with
    /// t = a_0 ^ a_1 ^ a_2 ^ a_3; multiplying by 2 (xtime) moves planes up one and folds plane 7 into 0x1B.
    /// </summary>
    private static void MixColumns(ref BitslicedState s)
    {
        var s0 = s.P0 ^ RotateRows1(s.P0);
        var s1 = s.P1 ^ RotateRows1(s.P1);
        var s2 = s.P2 ^ RotateRows1(s.P2);
        var s3 = s.P3 ^ RotateRows1(s.P3);
        var s4 = s.P4 ^ RotateRows1(s.P4);
        var s5 = s.P5 ^ RotateRows1(s.P5);
        var s6 = s.P6 ^ RotateRows1(s.P6);
        var s7 = s.P7 ^ RotateRows1(s.P7);

        s.P0 ^= s0 ^ RotateRows2(s0) ^ s7;
        s.P1 ^= s1 ^ RotateRows2(s1) ^ s0 ^ s7;
        s.P2 ^= s2 ^ RotateRows2(s2) ^ s1;
        s.P3 ^= s3 ^ RotateRows2(s3) ^ s2 ^ s7;
        s.P4 ^= s4 ^ RotateRows2(s4) ^ s3 ^ s7;
        s.P5 ^= s5 ^ RotateRows2(s5) ^ s4;
        s.P6 ^= s6 ^ RotateRows2(s6) ^ s5;
        s.P7 ^= s7 ^ RotateRows2(s7) ^ s6;
    }

    /// <summary>
    /// InvMixColumns = MixColumns after multiplying each column by 4x^2 + 5, i.e.
    /// u_r = a_r ^ 4(a_r ^ a_{r+2}) (FIPS 197's d(x) = c(x)·(4x^2 + 5) mod x^4 + 1).
    /// </summary>
    private static void InverseMixColumns(ref BitslicedState s)
    {
        var v0 = s.P0 ^ RotateRows2(s.P0);
        var v1 = s.P1 ^ RotateRows2(s.P1);
        var v2 = s.P2 ^ RotateRows2(s.P2);
        var v3 = s.P3 ^ RotateRows2(s.P3);
        var v4 = s.P4 ^ RotateRows2(s.P4);
        var v5 = s.P5 ^ RotateRows2(s.P5);
        var v6 = s.P6 ^ RotateRows2(s.P6);
        var v7 = s.P7 ^ RotateRows2(s.P7);

        // Multiplying by 4 is xtime twice, written out plane by plane.
        s.P0 ^= v6;
        s.P1 ^= v7 ^ v6;
        s.P2 ^= v0 ^ v7;
        s.P3 ^= v1 ^ v6;
        s.P4 ^= v2 ^ v7 ^ v6;
        s.P5 ^= v3 ^ v7;
        s.P6 ^= v4;
        s.P7 ^= v5;

        MixColumns(ref s);
    }
}
