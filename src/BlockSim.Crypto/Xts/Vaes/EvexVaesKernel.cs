using Iced.Intel;

namespace BlockSim.Crypto.Xts.Vaes;

/// <summary>
/// The XTS bulk loop on VAES and VPCLMULQDQ with AVX-512's EVEX encoding, generated at start-up with the
/// Iced assembler, at 256 bits (two blocks per AES instruction, AVX-512VL) or 512 bits (four). EVEX gives
/// 32 vector registers, so all 15 round keys stay in registers for the whole call and eight data vectors
/// (16 or 32 blocks) are in flight, where the VEX form (<see cref="VaesKernel"/>) has 16 registers and
/// reads its round keys from memory. One call runs whole vectors:
/// <code>
/// void kernel(byte* keys, byte* source, byte* destination, nuint vectors, byte* tweaks)
/// </code>
/// <c>keys</c>: the 15 round keys of one direction, 16 bytes each (broadcast to every lane when loaded),
/// then the constants at <see cref="ConstantOffset"/> (<see cref="WriteConstants"/>). <c>tweak</c>: 16 bytes,
/// the tweak of the first block on entry and of the block after the last on return; for the entry points that
/// take a tweak value instead, the value (before encryption with Key2) on entry, whose encryption is then
/// overlapped with the loading of the round keys. <c>vectors</c>: at least 1. No stack or scratch memory is used, and every vector
/// register is cleared on return, so no key or tweak is left behind.
/// </summary>
internal static unsafe class EvexVaesKernel
{
    public const int KeyScheduleBytes = 15 * 16;
    public const int ConstantOffset = 256;
    public const int Key2Offset = ConstantOffset + (3 * 64);
    public const int KeyBytes = Key2Offset + KeyScheduleBytes;

    /// <summary>Data vectors in flight in the main loop; register allocation below depends on it.</summary>
    public const int GroupVectors = 8;

    private const int Rounds = 14;
    private const int DataBase = 0;      // v0-v7: data
    private const int TweakBase = 8;     // v8-v15: the tweaks of the eight data vectors
    private const int KeyBase = 16;      // v16-v30: round keys 0-14
    private const int Temp = 31;         // v31: tweak arithmetic

    private static readonly Lazy<nint[]> s_code256 = new(() => Generate(VectorWidth.Bits256));
    private static readonly Lazy<nint[]> s_code512 = new(() => Generate(VectorWidth.Bits512));

    /// <summary>
    /// The kernel for a width and direction, taking an encrypted tweak or a tweak value to encrypt; its keys
    /// are Key1's encryption or inverse-cipher schedule, the constants and Key2's encryption schedule.
    /// </summary>
    public static delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, void> Kernel(VectorWidth width, bool decrypt, bool encryptsTweak)
    {
        var code = width == VectorWidth.Bits512 ? s_code512.Value : s_code256.Value;
        return (delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, void>)code[EntryIndex(decrypt, encryptsTweak)];
    }

    private static int EntryIndex(bool decrypt, bool encryptsTweak) => (decrypt ? 2 : 0) + (encryptsTweak ? 1 : 0);

    /// <summary>
    /// The kernel's constants, none secret, at <see cref="ConstantOffset"/>: 0x87 in the low quadword of
    /// every lane, then for each lane j the shift counts j and 64 - j of both its quadwords (the first vector's
    /// tweaks are T times x^j in lane j).
    /// </summary>
    public static void WriteConstants(byte* keys)
    {
        var constants = (ulong*)(keys + ConstantOffset);
        for (var lane = 0; lane < 4; lane++)
        {
            constants[2 * lane] = 0x87;
            constants[(2 * lane) + 1] = 0;
            constants[8 + (2 * lane)] = constants[8 + (2 * lane) + 1] = (ulong)lane;
            constants[16 + (2 * lane)] = constants[16 + (2 * lane) + 1] = (ulong)(64 - lane);
        }
    }

    private static nint[] Generate(VectorWidth width)
    {
        var entries = new byte[4][];
        foreach (var decrypt in new[] { false, true })
        {
            foreach (var encryptsTweak in new[] { false, true })
            {
                entries[EntryIndex(decrypt, encryptsTweak)] = Assemble(width, decrypt, encryptsTweak);
            }
        }

        var code = entries.SelectMany(entry => entry).ToArray();
        var at = (nint)ExecutableMemory.Map(code);
        var addresses = new nint[entries.Length];
        for (int i = 0, offset = 0; i < entries.Length; offset += entries[i].Length, i++)
        {
            addresses[i] = at + offset;
        }

        return addresses;
    }

    /// <summary>System V arguments: rdi keys, rsi source, rdx destination, rcx vectors, r8 tweak.</summary>
    private static byte[] Assemble(VectorWidth width, bool decrypt, bool encryptsTweak)
    {
        var a = new Assembler(64);
        var v = new EvexEmitter(a, width);
        var lanes = v.Bytes / 16;
        var constant = new MemoryOperand(Register.RDI, ConstantOffset);
        var laneShifts = new MemoryOperand(Register.RDI, ConstantOffset + 64);
        var laneCarries = new MemoryOperand(Register.RDI, ConstantOffset + 128);

        // The caller gives the first block's tweak T: lane j of the first vector is T x^j, and vector i's
        // tweaks are the first vector's times x^(lanes * i), each computed from the first (independent, so
        // they overlap), with data registers as scratch.
        if (encryptsTweak)
        {
            // T = AES-256 of the tweak value under Key2. It is a chain of 15 dependent rounds, so it is issued
            // first; the round-key loads below do not depend on it and run while it completes.
            v.LoadBlock(TweakBase, new MemoryOperand(Register.R8));
            v.EncryptOneBlock(TweakBase, Register.RDI, Key2Offset);
            v.BroadcastLowBlock(TweakBase, TweakBase);
        }
        else
        {
            v.BroadcastBlock(TweakBase, new MemoryOperand(Register.R8));
        }

        for (var round = 0; round <= Rounds; round++)
        {
            v.BroadcastBlock(KeyBase + round, new MemoryOperand(Register.RDI, 16 * round));
        }

        v.ShiftQuadwordsRight(DataBase, TweakBase, laneCarries);
        v.ShiftQuadwordsLeft(TweakBase, TweakBase, laneShifts);
        Reduce(v, TweakBase, DataBase, DataBase + 1, constant);
        for (var i = 1; i < GroupVectors; i++)
        {
            TimesXPower(v, TweakBase + i, TweakBase, lanes * i, DataBase, DataBase + 1, constant);
        }

        var loop = a.CreateLabel();
        var remainder = a.CreateLabel();
        var done = a.CreateLabel();
        a.cmp(AssemblerRegisters.rcx, GroupVectors);
        a.jb(remainder);
        a.Label(ref loop);
        EmitVectors(v, GroupVectors, decrypt);

        // The next group's tweaks are this group's times x^(8 * lanes): a shift by whole bytes, so four
        // instructions each. Written after the group's last use of each; register renaming lets them run
        // ahead, during this group's rounds.
        for (var i = 0; i < GroupVectors; i++)
        {
            TimesXBytes(v, TweakBase + i, lanes, constant);
        }

        a.add(AssemblerRegisters.rsi, GroupVectors * v.Bytes);
        a.add(AssemblerRegisters.rdx, GroupVectors * v.Bytes);
        a.sub(AssemblerRegisters.rcx, GroupVectors);
        a.cmp(AssemblerRegisters.rcx, GroupVectors);
        a.jae(loop);

        // 0 to 7 vectors are left, and their tweaks are already in v8 onwards: one straight-line block per
        // count, all its vectors in flight together, then the tweak after them moved to v8.
        a.Label(ref remainder);
        a.test(AssemblerRegisters.rcx, AssemblerRegisters.rcx);
        a.jz(done);
        for (var count = 1; count < GroupVectors; count++)
        {
            var next = a.CreateLabel();
            if (count < GroupVectors - 1)
            {
                a.cmp(AssemblerRegisters.rcx, count);
                a.jne(next);
            }

            EmitVectors(v, count, decrypt);
            v.Move(TweakBase, TweakBase + count);
            if (count < GroupVectors - 1)
            {
                a.jmp(done);
                a.Label(ref next);
            }
        }

        a.Label(ref done);
        v.StoreBlock(new MemoryOperand(Register.R8), TweakBase);

        // vzeroall clears v0-v15 whole; v16-v31 (round keys and tweak arithmetic) are cleared one by one.
        for (var i = 16; i < 32; i++)
        {
            v.ClearRegister(i);
        }

        a.vzeroall();
        a.ret();

        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0);
        return stream.ToArray();
    }

    /// <summary>Loads, XTS-transforms and stores <paramref name="count"/> vectors at rsi/rdx with the tweaks in v8 onwards.</summary>
    private static void EmitVectors(EvexEmitter v, int count, bool decrypt)
    {
        for (var i = 0; i < count; i++)
        {
            // data ^ tweak ^ round key 0 in one three-way XOR.
            v.Load(DataBase + i, new MemoryOperand(Register.RSI, i * v.Bytes));
            v.Xor3(DataBase + i, TweakBase + i, KeyBase);
        }

        for (var round = 1; round < Rounds; round++)
        {
            for (var i = 0; i < count; i++)
            {
                v.AesRound(DataBase + i, KeyBase + round, decrypt, last: false);
            }
        }

        for (var i = 0; i < count; i++)
        {
            v.AesRound(DataBase + i, KeyBase + Rounds, decrypt, last: true);
            v.Xor(DataBase + i, DataBase + i, TweakBase + i);
            v.Store(new MemoryOperand(Register.RDX, i * v.Bytes), DataBase + i);
        }
    }

    /// <summary>
    /// v[target] = v[target] * x^(8m) in each 128-bit lane, 1 &lt;= m &lt;= 7: the lane shifts left by m bytes,
    /// and the m bytes leaving the top come back multiplied by 0x87 (x^128 = x^7 + x^2 + x + 1), a product
    /// of at most 8m + 8 bits, so within the low quadword.
    /// </summary>
    private static void TimesXBytes(EvexEmitter v, int target, int m, MemoryOperand constant)
    {
        v.ShiftLanesRightBytes(Temp, target, 16 - m);
        v.CarrylessMultiplyLow(Temp, Temp, constant);
        v.ShiftLanesLeftBytes(target, target, m);
        v.Xor(target, target, Temp);
    }

    /// <summary>
    /// v[target] = v[source] * x^k in each 128-bit lane, 1 &lt;= k &lt;= 56: both quadwords shift left by k, the k
    /// bits leaving the low one enter the high one, and the k leaving the top are reduced with 0x87.
    /// </summary>
    private static void TimesXPower(EvexEmitter v, int target, int source, int k, int scratch1, int scratch2, MemoryOperand constant)
    {
        v.ShiftQuadwordsRight(scratch1, source, 64 - k);
        v.ShiftQuadwordsLeft(target, source, k);
        Reduce(v, target, scratch1, scratch2, constant);
    }

    /// <summary>
    /// The second half of a multiplication by x^k: v[carries] holds the bits that left each quadword of
    /// v[target] (already shifted), those of the low quadword go into the high one and those of the top are
    /// reduced with 0x87.
    /// </summary>
    private static void Reduce(EvexEmitter v, int target, int carries, int scratch, MemoryOperand constant)
    {
        v.ShiftLanesLeftBytes(scratch, carries, 8);
        v.ShiftLanesRightBytes(carries, carries, 8);
        v.CarrylessMultiplyLow(carries, carries, constant);
        v.Xor3(target, carries, scratch);
    }
}
