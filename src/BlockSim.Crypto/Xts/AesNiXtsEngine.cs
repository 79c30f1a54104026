using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace BlockSim.Crypto.Xts;

/// <summary>
/// XTS-AES-256 on the 128-bit AES-NI instructions. Twelve blocks are in flight at once so the AES units
/// stay busy through the round latency; the tweak XORs are folded into the first and last round keys; each
/// group's tweaks are a doubling chain that runs while the previous group is in the AES units.
/// </summary>
// The tweak buffer of each group is written by FillTweaks before it is read.
[SkipLocalsInit]
internal sealed unsafe class AesNiXtsEngine : XtsEngine
{
    private const int Rounds = 14;

    // Blocks in flight per loop: AES latency here is long enough that 8 independent chains leave the
    // AES units idle part of the time; 12 data registers plus a round key still fit in 16 XMM registers.
    private const int Group = 12;
    private const int RoundKeys = Rounds + 1;

    // Layout of the key memory, in 16-byte round keys: Key1 for encryption, Key1 for the
    // equivalent inverse cipher (decryption), Key2 for the tweaks.
    private const int Key1Encrypt = 0;
    private const int Key1Decrypt = RoundKeys;
    private const int Key2Encrypt = 2 * RoundKeys;

    private readonly SecretMemory _keys = new(3 * RoundKeys * 16);

    public AesNiXtsEngine(ReadOnlySpan<byte> key)
    {
        var rk = RoundKeyPointer(0);
        ExpandKey(key[..32], rk + Key1Encrypt);
        MakeDecryptionKeys(rk + Key1Encrypt, rk + Key1Decrypt);
        ExpandKey(key[32..], rk + Key2Encrypt);
    }

    public override XtsTier Tier => XtsTier.AesNi;

    public override void Dispose() => _keys.Dispose();

    private Vector128<byte>* RoundKeyPointer(int index) => (Vector128<byte>*)_keys.Pointer + index;

    /// <summary>Key1's round keys: the encryption schedule, or the equivalent inverse cipher's (for AESDEC).</summary>
    internal ReadOnlySpan<Vector128<byte>> Key1Schedule(bool decrypt) =>
        new(RoundKeyPointer(decrypt ? Key1Decrypt : Key1Encrypt), RoundKeys);

    /// <summary>Key2's round keys (the tweak key; encryption only).</summary>
    internal ReadOnlySpan<Vector128<byte>> Key2Schedule() => new(RoundKeyPointer(Key2Encrypt), RoundKeys);

    public override void EncryptTweaks(Span<byte> tweaks)
    {
        var rk = RoundKeyPointer(Key2Encrypt);
        fixed (byte* p = tweaks)
        {
            var blocks = tweaks.Length / 16;
            var i = 0;
            for (; i + 4 <= blocks; i += 4)
            {
                // Four independent blocks hide most of the round latency; tweak batches are small.
                var v = (Vector128<byte>*)p + i;
                var b0 = v[0] ^ rk[0];
                var b1 = v[1] ^ rk[0];
                var b2 = v[2] ^ rk[0];
                var b3 = v[3] ^ rk[0];
                for (var r = 1; r < Rounds; r++)
                {
                    var k = rk[r];
                    b0 = X86Aes.Encrypt(b0, k);
                    b1 = X86Aes.Encrypt(b1, k);
                    b2 = X86Aes.Encrypt(b2, k);
                    b3 = X86Aes.Encrypt(b3, k);
                }

                v[0] = X86Aes.EncryptLast(b0, rk[Rounds]);
                v[1] = X86Aes.EncryptLast(b1, rk[Rounds]);
                v[2] = X86Aes.EncryptLast(b2, rk[Rounds]);
                v[3] = X86Aes.EncryptLast(b3, rk[Rounds]);
            }

            for (; i < blocks; i++)
            {
                var v = (Vector128<byte>*)p + i;
                *v = CryptBlock<Encryption>(Vector128.Load((byte*)v), rk);
            }
        }
    }

    // Each override is the whole block loop (CryptBlocks is inlined into it). NoInlining keeps the VAES
    // tiers, which call these for their last few blocks, calling one copy instead of carrying their own: the
    // small IL of the override would otherwise invite the JIT to inline all of it there.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public override void EncryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak) =>
        CryptBlocks<Encryption>(source, destination, ref tweak);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public override void DecryptBlocks(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak) =>
        CryptBlocks<Decryption>(source, destination, ref tweak);

    /// <summary>
    /// The two directions differ only in the round instructions and which schedule of Key1 they read
    /// (decryption runs the equivalent inverse cipher, so its rounds have the same shape). The direction is a
    /// struct type argument, so the JIT compiles one copy per direction with the rounds inlined, as if written twice.
    /// </summary>
    private interface IAesDirection
    {
        /// <summary>Where this direction's Key1 round keys start in the key memory, in round keys.</summary>
        static abstract int Schedule { get; }

        static abstract Vector128<byte> Round(Vector128<byte> state, Vector128<byte> roundKey);

        static abstract Vector128<byte> LastRound(Vector128<byte> state, Vector128<byte> roundKey);
    }

    private readonly struct Encryption : IAesDirection
    {
        public static int Schedule => Key1Encrypt;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<byte> Round(Vector128<byte> state, Vector128<byte> roundKey) => X86Aes.Encrypt(state, roundKey);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<byte> LastRound(Vector128<byte> state, Vector128<byte> roundKey) => X86Aes.EncryptLast(state, roundKey);
    }

    private readonly struct Decryption : IAesDirection
    {
        public static int Schedule => Key1Decrypt;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<byte> Round(Vector128<byte> state, Vector128<byte> roundKey) => X86Aes.Decrypt(state, roundKey);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<byte> LastRound(Vector128<byte> state, Vector128<byte> roundKey) => X86Aes.DecryptLast(state, roundKey);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CryptBlocks<TDirection>(ReadOnlySpan<byte> source, Span<byte> destination, ref Vector128<byte> tweak)
        where TDirection : struct, IAesDirection
    {
        var rk = RoundKeyPointer(TDirection.Schedule);
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            var blocks = source.Length / 16;
            var done = CryptGroups<TDirection>(src, dst, blocks, rk, ref tweak);
            var t = tweak;
            for (; done + 4 <= blocks; done += 4)
            {
                t = CryptFour<TDirection>(src + (16 * done), dst + (16 * done), rk, t);
            }

            for (; done < blocks; done++)
            {
                var b = Vector128.Load(src + (16 * done)) ^ t;
                Vector128.Store(CryptBlock<TDirection>(b, rk) ^ t, dst + (16 * done));
                t = Gf128.MulX(t);
            }

            tweak = t;
        }
    }

    /// <summary>Runs whole groups of <see cref="Group"/> blocks; returns how many blocks it did.</summary>
    private static int CryptGroups<TDirection>(byte* src, byte* dst, int blocks, Vector128<byte>* rk, ref Vector128<byte> tweak)
        where TDirection : struct, IAesDirection
    {
        var tweaks = stackalloc Vector128<byte>[Group];
        var t = tweak;
        var first = rk[0];
        var last = rk[Rounds];
        var done = 0;
        for (; done + Group <= blocks; done += Group, src += 16 * Group, dst += 16 * Group)
        {
            t = FillTweaks(tweaks, t);
            var b0 = Vector128.Load(src) ^ tweaks[0] ^ first;
            var b1 = Vector128.Load(src + 16) ^ tweaks[1] ^ first;
            var b2 = Vector128.Load(src + 32) ^ tweaks[2] ^ first;
            var b3 = Vector128.Load(src + 48) ^ tweaks[3] ^ first;
            var b4 = Vector128.Load(src + 64) ^ tweaks[4] ^ first;
            var b5 = Vector128.Load(src + 80) ^ tweaks[5] ^ first;
            var b6 = Vector128.Load(src + 96) ^ tweaks[6] ^ first;
            var b7 = Vector128.Load(src + 112) ^ tweaks[7] ^ first;
            var b8 = Vector128.Load(src + 128) ^ tweaks[8] ^ first;
            var b9 = Vector128.Load(src + 144) ^ tweaks[9] ^ first;
            var b10 = Vector128.Load(src + 160) ^ tweaks[10] ^ first;
            var b11 = Vector128.Load(src + 176) ^ tweaks[11] ^ first;
            for (var r = 1; r < Rounds; r++)
            {
                var k = rk[r];
                b0 = TDirection.Round(b0, k);
                b1 = TDirection.Round(b1, k);
                b2 = TDirection.Round(b2, k);
                b3 = TDirection.Round(b3, k);
                b4 = TDirection.Round(b4, k);
                b5 = TDirection.Round(b5, k);
                b6 = TDirection.Round(b6, k);
                b7 = TDirection.Round(b7, k);
                b8 = TDirection.Round(b8, k);
                b9 = TDirection.Round(b9, k);
                b10 = TDirection.Round(b10, k);
                b11 = TDirection.Round(b11, k);
            }

            // The closing tweak XOR rides on the last round key: the last round (AESENCLAST or AESDECLAST)
            // ends in AddRoundKey, so LastRound(b, k ^ t) = LastRound(b, k) ^ t.
            Vector128.Store(TDirection.LastRound(b0, last ^ tweaks[0]), dst);
            Vector128.Store(TDirection.LastRound(b1, last ^ tweaks[1]), dst + 16);
            Vector128.Store(TDirection.LastRound(b2, last ^ tweaks[2]), dst + 32);
            Vector128.Store(TDirection.LastRound(b3, last ^ tweaks[3]), dst + 48);
            Vector128.Store(TDirection.LastRound(b4, last ^ tweaks[4]), dst + 64);
            Vector128.Store(TDirection.LastRound(b5, last ^ tweaks[5]), dst + 80);
            Vector128.Store(TDirection.LastRound(b6, last ^ tweaks[6]), dst + 96);
            Vector128.Store(TDirection.LastRound(b7, last ^ tweaks[7]), dst + 112);
            Vector128.Store(TDirection.LastRound(b8, last ^ tweaks[8]), dst + 128);
            Vector128.Store(TDirection.LastRound(b9, last ^ tweaks[9]), dst + 144);
            Vector128.Store(TDirection.LastRound(b10, last ^ tweaks[10]), dst + 160);
            Vector128.Store(TDirection.LastRound(b11, last ^ tweaks[11]), dst + 176);
        }

        tweak = t;
        new Span<byte>(tweaks, 16 * Group).Clear();
        return done;
    }

    /// <summary>
    /// Writes the group's tweaks t, t·x, ..., t·x^(Group-1) and returns t·x^Group. The chain is serial but
    /// independent of the AES work, so it runs in the gaps of the previous group's rounds. (Two tweaks per
    /// 256-bit vector, times x^2 a step, measured about 5% slower on Zen 3: the 128-bit loads of a 256-bit
    /// store's upper half do not forward. Eight carry-less x^8 steps measured the same as this chain.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> FillTweaks(Vector128<byte>* tweaks, Vector128<byte> t)
    {
        for (var i = 0; i < Group; i++)
        {
            tweaks[i] = t;
            t = Gf128.MulX(t);
        }

        return t;
    }

    /// <summary>Four blocks at once for what the groups leave (a 4 KiB sector is 21 groups and 4 blocks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> CryptFour<TDirection>(byte* src, byte* dst, Vector128<byte>* rk, Vector128<byte> t0)
        where TDirection : struct, IAesDirection
    {
        var t1 = Gf128.MulX(t0);
        var t2 = Gf128.MulX(t1);
        var t3 = Gf128.MulX(t2);
        var b0 = Vector128.Load(src) ^ t0 ^ rk[0];
        var b1 = Vector128.Load(src + 16) ^ t1 ^ rk[0];
        var b2 = Vector128.Load(src + 32) ^ t2 ^ rk[0];
        var b3 = Vector128.Load(src + 48) ^ t3 ^ rk[0];
        for (var r = 1; r < Rounds; r++)
        {
            var k = rk[r];
            b0 = TDirection.Round(b0, k);
            b1 = TDirection.Round(b1, k);
            b2 = TDirection.Round(b2, k);
            b3 = TDirection.Round(b3, k);
        }

        Vector128.Store(TDirection.LastRound(b0, rk[Rounds] ^ t0), dst);
        Vector128.Store(TDirection.LastRound(b1, rk[Rounds] ^ t1), dst + 16);
        Vector128.Store(TDirection.LastRound(b2, rk[Rounds] ^ t2), dst + 32);
        Vector128.Store(TDirection.LastRound(b3, rk[Rounds] ^ t3), dst + 48);
        return Gf128.MulX(t3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> CryptBlock<TDirection>(Vector128<byte> b, Vector128<byte>* rk)
        where TDirection : struct, IAesDirection
    {
        b ^= rk[0];
        for (var r = 1; r < Rounds; r++)
        {
            b = TDirection.Round(b, rk[r]);
        }

        return TDirection.LastRound(b, rk[Rounds]);
    }

    /// <summary>The AES-256 key schedule (FIPS 197 §5.2) on AESKEYGENASSIST; the immediates must be constants.</summary>
    private static void ExpandKey(ReadOnlySpan<byte> key, Vector128<byte>* rk)
    {
        var a = Vector128.Create(key[..16]);
        var b = Vector128.Create(key[16..]);
        rk[0] = a;
        rk[1] = b;
        a = NextEven(a, X86Aes.KeygenAssist(b, 0x01)); rk[2] = a; b = NextOdd(b, a); rk[3] = b;
        a = NextEven(a, X86Aes.KeygenAssist(b, 0x02)); rk[4] = a; b = NextOdd(b, a); rk[5] = b;
        a = NextEven(a, X86Aes.KeygenAssist(b, 0x04)); rk[6] = a; b = NextOdd(b, a); rk[7] = b;
        a = NextEven(a, X86Aes.KeygenAssist(b, 0x08)); rk[8] = a; b = NextOdd(b, a); rk[9] = b;
        a = NextEven(a, X86Aes.KeygenAssist(b, 0x10)); rk[10] = a; b = NextOdd(b, a); rk[11] = b;
        a = NextEven(a, X86Aes.KeygenAssist(b, 0x20)); rk[12] = a; b = NextOdd(b, a); rk[13] = b;
        rk[14] = NextEven(a, X86Aes.KeygenAssist(b, 0x40));

        // Locals holding key words are dead from here; the JIT keeps them in registers, which the
        // next vector operations overwrite.
    }

    /// <summary>Round keys 2i: previous even key, prefix-XORed, plus SubWord(RotWord(w)) ^ Rcon broadcast from word 3.</summary>
    private static Vector128<byte> NextEven(Vector128<byte> previous, Vector128<byte> assist)
    {
        var broadcast = Sse2.Shuffle(assist.AsUInt32(), 0xFF).AsByte();
        return PrefixXor(previous) ^ broadcast;
    }

    /// <summary>Round keys 2i+1: previous odd key, prefix-XORed, plus SubWord(w) broadcast from word 2.</summary>
    private static Vector128<byte> NextOdd(Vector128<byte> previous, Vector128<byte> evenKey)
    {
        var assist = X86Aes.KeygenAssist(evenKey, 0x00);
        var broadcast = Sse2.Shuffle(assist.AsUInt32(), 0xAA).AsByte();
        return PrefixXor(previous) ^ broadcast;
    }

    /// <summary>Word i becomes w0 ^ ... ^ wi: the chained XOR of the key schedule, for four words at once.</summary>
    private static Vector128<byte> PrefixXor(Vector128<byte> v)
    {
        v ^= Sse2.ShiftLeftLogical128BitLane(v, 4);
        v ^= Sse2.ShiftLeftLogical128BitLane(v, 4);
        v ^= Sse2.ShiftLeftLogical128BitLane(v, 4);
        return v;
    }

    /// <summary>Round keys of the equivalent inverse cipher: reversed, with InvMixColumns on the middle ones.</summary>
    private static void MakeDecryptionKeys(Vector128<byte>* encrypt, Vector128<byte>* decrypt)
    {
        decrypt[0] = encrypt[Rounds];
        for (var r = 1; r < Rounds; r++)
        {
            decrypt[r] = X86Aes.InverseMixColumns(encrypt[Rounds - r]);
        }

        decrypt[Rounds] = encrypt[0];
    }
}
