using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using BlockSim.Crypto.Xts.Bitsliced;

namespace BlockSim.Crypto.Xts;

/// <summary>
/// XTS-AES-256 on the bitsliced AES: constant time, no AES instructions needed, and the reference
/// that the hardware tiers are tested against. Works sixteen blocks (256 bytes) at a time.
/// </summary>
// The batch buffers are cleared or fully written before each use, so the runtime need not zero them first.
[SkipLocalsInit]
internal sealed unsafe class SoftwareXtsEngine : XtsEngine
{
    private const int Batch = BitslicedState.Bytes;

    // Two schedules of 15 bitsliced round keys: Key1 (data, both directions) then Key2 (tweaks).
    private readonly SecretMemory _keys = new(2 * BitslicedAes.RoundKeys * sizeof(BitslicedState));

    public SoftwareXtsEngine(ReadOnlySpan<byte> key)
    {
        BitslicedAes.ExpandKey(key[..32], Key1);
        BitslicedAes.ExpandKey(key[32..], Key2);
    }

    public override XtsTier Tier => XtsTier.Software;

    private BitslicedState* Key1 => (BitslicedState*)_keys.Pointer;

    private BitslicedState* Key2 => (BitslicedState*)_keys.Pointer + BitslicedAes.RoundKeys;

    public override void Dispose() => _keys.Dispose();

    public override void EncryptTweaks(Span<byte> tweaks)
    {
        Span<byte> work = stackalloc byte[Batch];
        Span<ushort> scratch = stackalloc ushort[128];
        BitslicedState state = default;
        try
        {
            for (var offset = 0; offset < tweaks.Length; offset += Batch)
            {
                var chunk = tweaks[offset..Math.Min(offset + Batch, tweaks.Length)];
                work.Clear();
                chunk.CopyTo(work);
                BitslicedState.Load(ref state, work, scratch);
                BitslicedAes.Encrypt(ref state, Key2);
                BitslicedState.Store(ref state, work, scratch);
                work[..chunk.Length].CopyTo(chunk);
            }
        }
        finally
        {
            Wipe(work, scratch, ref state);
        }
    }

    public override void EncryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak) =>
        Crypt(source, destination, ref tweak, decrypt: false);

    public override void DecryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak) =>
        Crypt(source, destination, ref tweak, decrypt: true);

    private void Crypt(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak, bool decrypt)
    {
        Span<byte> work = stackalloc byte[Batch];
        Span<byte> masks = stackalloc byte[Batch];
        Span<ushort> scratch = stackalloc ushort[128];
        var masksAsWords = MemoryMarshal.Cast<byte, ulong>(masks);
        BitslicedState state = default;
        var lo = tweak.AsUInt64().GetElement(0);
        var hi = tweak.AsUInt64().GetElement(1);
        try
        {
            for (var offset = 0; offset < source.Length; offset += Batch)
            {
                var length = Math.Min(Batch, source.Length - offset);

                // One tweak per block, each the previous times x; a short last batch is padded with zeros
                // (the padding's output is thrown away).
                for (var i = 0; i < length / 16; i++)
                {
                    masksAsWords[2 * i] = lo;
                    masksAsWords[(2 * i) + 1] = hi;
                    Gf128.MulX(ref lo, ref hi);
                }

                work.Clear();
                Xor(source.Slice(offset, length), masks, work);
                BitslicedState.Load(ref state, work, scratch);
                if (decrypt)
                {
                    BitslicedAes.Decrypt(ref state, Key1);
                }
                else
                {
                    BitslicedAes.Encrypt(ref state, Key1);
                }

                BitslicedState.Store(ref state, work, scratch);
                Xor(work[..length], masks, destination.Slice(offset, length));
            }

            tweak = Vector128.Create(lo, hi).AsByte();
        }
        finally
        {
            // The batch held plaintext and the tweak masks derived from Key2.
            Wipe(work, scratch, ref state);
            CryptographicOperations.ZeroMemory(masks);
        }
    }

    private static void Xor(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> result)
    {
        for (var i = 0; i < a.Length; i += 16)
        {
            (Vector128.Create(a[i..]) ^ Vector128.Create(b[i..])).CopyTo(result[i..]);
        }
    }

    private static void Wipe(Span<byte> work, Span<ushort> scratch, ref BitslicedState state)
    {
        CryptographicOperations.ZeroMemory(work);
        CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(scratch));
        state = default;
    }
}
