using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace BlockSim.Crypto.Xts.Bitsliced;

/// <summary>
/// Sixteen AES blocks in bitsliced form: plane b holds bit b of every byte of every block.
/// Within a plane, 16-bit chunk j belongs to block j and bit k of that chunk to byte k of the block
/// (byte k = 4·column + row, FIPS 197 order). With that layout ShiftRows and MixColumns are fixed
/// shifts and masks inside each 16-bit chunk, the S-box is a Boolean circuit, and nothing ever
/// indexes memory by secret data: the time taken is the same for every key and every block.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BitslicedState
{
    public const int Blocks = 16;
    public const int Bytes = Blocks * 16;

    public Vector256<ulong> P0;
    public Vector256<ulong> P1;
    public Vector256<ulong> P2;
    public Vector256<ulong> P3;
    public Vector256<ulong> P4;
    public Vector256<ulong> P5;
    public Vector256<ulong> P6;
    public Vector256<ulong> P7;

    /// <summary>Transposes 256 bytes (16 blocks) into bit-planes. <paramref name="scratch"/> is 128 ushorts.</summary>
    public static void Load(ref BitslicedState s, ReadOnlySpan<byte> blocks, Span<ushort> scratch)
    {
        ref var src = ref MemoryMarshal.GetReference(blocks);
        ref var chunks = ref MemoryMarshal.GetReference(scratch);
        for (var j = 0; j < Blocks; j++)
        {
            // The most significant bit of each byte is one movemask away; doubling the bytes
            // brings the next bit up. Chunk (b, j) lands at scratch[16b + j].
            var v = Vector128.LoadUnsafe(ref src, (nuint)(16 * j));
            Unsafe.Add(ref chunks, (7 * Blocks) + j) = (ushort)v.ExtractMostSignificantBits(); v += v;
            Unsafe.Add(ref chunks, (6 * Blocks) + j) = (ushort)v.ExtractMostSignificantBits(); v += v;
            Unsafe.Add(ref chunks, (5 * Blocks) + j) = (ushort)v.ExtractMostSignificantBits(); v += v;
            Unsafe.Add(ref chunks, (4 * Blocks) + j) = (ushort)v.ExtractMostSignificantBits(); v += v;
            Unsafe.Add(ref chunks, (3 * Blocks) + j) = (ushort)v.ExtractMostSignificantBits(); v += v;
            Unsafe.Add(ref chunks, (2 * Blocks) + j) = (ushort)v.ExtractMostSignificantBits(); v += v;
            Unsafe.Add(ref chunks, (1 * Blocks) + j) = (ushort)v.ExtractMostSignificantBits(); v += v;
            Unsafe.Add(ref chunks, j) = (ushort)v.ExtractMostSignificantBits();
        }

        s.P0 = Vector256.LoadUnsafe(ref chunks, 0 * Blocks).AsUInt64();
        s.P1 = Vector256.LoadUnsafe(ref chunks, 1 * Blocks).AsUInt64();
        s.P2 = Vector256.LoadUnsafe(ref chunks, 2 * Blocks).AsUInt64();
        s.P3 = Vector256.LoadUnsafe(ref chunks, 3 * Blocks).AsUInt64();
        s.P4 = Vector256.LoadUnsafe(ref chunks, 4 * Blocks).AsUInt64();
        s.P5 = Vector256.LoadUnsafe(ref chunks, 5 * Blocks).AsUInt64();
        s.P6 = Vector256.LoadUnsafe(ref chunks, 6 * Blocks).AsUInt64();
        s.P7 = Vector256.LoadUnsafe(ref chunks, 7 * Blocks).AsUInt64();
    }

    /// <summary>Transposes bit-planes back into 256 bytes (16 blocks). <paramref name="scratch"/> is 128 ushorts.</summary>
    public static void Store(ref BitslicedState s, Span<byte> blocks, Span<ushort> scratch)
    {
        ref var dst = ref MemoryMarshal.GetReference(blocks);
        ref var chunks = ref MemoryMarshal.GetReference(scratch);
        s.P0.AsUInt16().StoreUnsafe(ref chunks, 0 * Blocks);
        s.P1.AsUInt16().StoreUnsafe(ref chunks, 1 * Blocks);
        s.P2.AsUInt16().StoreUnsafe(ref chunks, 2 * Blocks);
        s.P3.AsUInt16().StoreUnsafe(ref chunks, 3 * Blocks);
        s.P4.AsUInt16().StoreUnsafe(ref chunks, 4 * Blocks);
        s.P5.AsUInt16().StoreUnsafe(ref chunks, 5 * Blocks);
        s.P6.AsUInt16().StoreUnsafe(ref chunks, 6 * Blocks);
        s.P7.AsUInt16().StoreUnsafe(ref chunks, 7 * Blocks);

        // Byte order after the shuffle: the low bytes (block bytes 0-7) of planes 0..7, then the high bytes.
        var lowThenHigh = Vector128.Create((byte)0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
        for (var j = 0; j < Blocks; j++)
        {
            var w = Vector128.Create(
                Unsafe.Add(ref chunks, j),
                Unsafe.Add(ref chunks, (1 * Blocks) + j),
                Unsafe.Add(ref chunks, (2 * Blocks) + j),
                Unsafe.Add(ref chunks, (3 * Blocks) + j),
                Unsafe.Add(ref chunks, (4 * Blocks) + j),
                Unsafe.Add(ref chunks, (5 * Blocks) + j),
                Unsafe.Add(ref chunks, (6 * Blocks) + j),
                Unsafe.Add(ref chunks, (7 * Blocks) + j)).AsByte();
            var u = Vector128.Shuffle(w, lowThenHigh);

            // Now byte (8h + b) of u holds plane b for block bytes 8h..8h+7, bit l for byte 8h + l;
            // a movemask of bit l gathers the eight planes of block bytes l and 8 + l.
            ref var block = ref Unsafe.Add(ref dst, 16 * j);
            for (var l = 7; l >= 0; l--)
            {
                var m = u.ExtractMostSignificantBits();
                Unsafe.Add(ref block, l) = (byte)m;
                Unsafe.Add(ref block, 8 + l) = (byte)(m >> 8);
                u += u;
            }
        }
    }

    /// <summary>XORs a round key held in the same bitsliced form (8 planes, the key repeated in all 16 blocks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddRoundKey(ref readonly BitslicedState key)
    {
        P0 ^= key.P0;
        P1 ^= key.P1;
        P2 ^= key.P2;
        P3 ^= key.P3;
        P4 ^= key.P4;
        P5 ^= key.P5;
        P6 ^= key.P6;
        P7 ^= key.P7;
    }
}
