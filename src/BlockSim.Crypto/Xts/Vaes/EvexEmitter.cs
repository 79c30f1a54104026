using Iced.Intel;

namespace BlockSim.Crypto.Xts.Vaes;

/// <summary>The register width an EVEX kernel is generated for.</summary>
internal enum VectorWidth
{
    Bits256,
    Bits512,
}

/// <summary>
/// The few EVEX instructions the XTS kernels use, on vector registers named by number (0-31), at one
/// width: the same kernel source generates the 256-bit (ymm) and 512-bit (zmm) forms, the width only
/// choosing each instruction's encoding.
/// </summary>
internal sealed class EvexEmitter(Assembler assembler, VectorWidth width)
{
    private readonly bool _wide = width == VectorWidth.Bits512;

    /// <summary>Bytes in one vector register.</summary>
    public int Bytes => _wide ? 64 : 32;

    public void Load(int target, MemoryOperand source) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vmovdqu64_ymm_k1z_ymmm256, Code.EVEX_Vmovdqu64_zmm_k1z_zmmm512), V(target), source));

    public void Store(MemoryOperand target, int source) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vmovdqu64_ymmm256_k1z_ymm, Code.EVEX_Vmovdqu64_zmmm512_k1z_zmm), target, V(source)));

    public void Move(int target, int source) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vmovdqu64_ymm_k1z_ymmm256, Code.EVEX_Vmovdqu64_zmm_k1z_zmmm512), V(target), V(source)));

    /// <summary>One 16-byte block from memory into every 128-bit lane.</summary>
    public void BroadcastBlock(int target, MemoryOperand source) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vbroadcasti32x4_ymm_k1z_m128, Code.EVEX_Vbroadcasti32x4_zmm_k1z_m128), V(target), source));

    public void Xor(int target, int left, int right) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpxord_ymm_k1z_ymm_ymmm256b32, Code.EVEX_Vpxord_zmm_k1z_zmm_zmmm512b32), V(target), V(left), V(right)));

    /// <summary>v[target] ^= v[b] ^ v[c] (VPTERNLOGD with truth table 0x96).</summary>
    public void Xor3(int target, int b, int c) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpternlogd_ymm_k1z_ymm_ymmm256b32_imm8, Code.EVEX_Vpternlogd_zmm_k1z_zmm_zmmm512b32_imm8), V(target), V(b), V(c), 0x96));

    /// <summary>One AES round of every lane of v[state] with the round key in v[key], in place.</summary>
    public void AesRound(int state, int key, bool decrypt, bool last)
    {
        var code = (decrypt, last) switch
        {
            (false, false) => Pick(Code.EVEX_Vaesenc_ymm_ymm_ymmm256, Code.EVEX_Vaesenc_zmm_zmm_zmmm512),
            (false, true) => Pick(Code.EVEX_Vaesenclast_ymm_ymm_ymmm256, Code.EVEX_Vaesenclast_zmm_zmm_zmmm512),
            (true, false) => Pick(Code.EVEX_Vaesdec_ymm_ymm_ymmm256, Code.EVEX_Vaesdec_zmm_zmm_zmmm512),
            (true, true) => Pick(Code.EVEX_Vaesdeclast_ymm_ymm_ymmm256, Code.EVEX_Vaesdeclast_zmm_zmm_zmmm512),
        };
        Emit(Instruction.Create(code, V(state), V(state), V(key)));
    }

    /// <summary>Each 128-bit lane shifted left by whole bytes (VPSLLDQ).</summary>
    public void ShiftLanesLeftBytes(int target, int source, int bytes) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpslldq_ymm_ymmm256_imm8, Code.EVEX_Vpslldq_zmm_zmmm512_imm8), V(target), V(source), bytes));

    /// <summary>Each 128-bit lane shifted right by whole bytes (VPSRLDQ).</summary>
    public void ShiftLanesRightBytes(int target, int source, int bytes) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpsrldq_ymm_ymmm256_imm8, Code.EVEX_Vpsrldq_zmm_zmmm512_imm8), V(target), V(source), bytes));

    public void ShiftQuadwordsLeft(int target, int source, int bits) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpsllq_ymm_k1z_ymmm256b64_imm8, Code.EVEX_Vpsllq_zmm_k1z_zmmm512b64_imm8), V(target), V(source), bits));

    public void ShiftQuadwordsRight(int target, int source, int bits) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpsrlq_ymm_k1z_ymmm256b64_imm8, Code.EVEX_Vpsrlq_zmm_k1z_zmmm512b64_imm8), V(target), V(source), bits));

    /// <summary>Each quadword shifted left by its own count, the matching quadword of the memory operand.</summary>
    public void ShiftQuadwordsLeft(int target, int source, MemoryOperand counts) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpsllvq_ymm_k1z_ymm_ymmm256b64, Code.EVEX_Vpsllvq_zmm_k1z_zmm_zmmm512b64), V(target), V(source), counts));

    /// <summary>Each quadword shifted right by its own count (64 or more gives 0).</summary>
    public void ShiftQuadwordsRight(int target, int source, MemoryOperand counts) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpsrlvq_ymm_k1z_ymm_ymmm256b64, Code.EVEX_Vpsrlvq_zmm_k1z_zmm_zmmm512b64), V(target), V(source), counts));

    /// <summary>The 16-byte block in the low lane of v[source] copied into every lane of v[target].</summary>
    public void BroadcastLowBlock(int target, int source) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vshufi64x2_ymm_k1z_ymm_ymmm256b64_imm8, Code.EVEX_Vshufi64x2_zmm_k1z_zmm_zmmm512b64_imm8), V(target), V(source), V(source), 0));

    /// <summary>
    /// AES-256 encryption of the one block in the low 128 bits of v[block], round keys read from memory
    /// (128-bit VEX instructions: a single block, latency-bound, so there is nothing to gain from width).
    /// </summary>
    public void EncryptOneBlock(int block, Register keys, int offset)
    {
        var xmm = Register.XMM0 + block;
        Emit(Instruction.Create(Code.VEX_Vpxor_xmm_xmm_xmmm128, xmm, xmm, new MemoryOperand(keys, offset)));
        for (var round = 1; round < 14; round++)
        {
            Emit(Instruction.Create(Code.VEX_Vaesenc_xmm_xmm_xmmm128, xmm, xmm, new MemoryOperand(keys, offset + (16 * round))));
        }

        Emit(Instruction.Create(Code.VEX_Vaesenclast_xmm_xmm_xmmm128, xmm, xmm, new MemoryOperand(keys, offset + (16 * 14))));
    }

    /// <summary>16 bytes from memory into the low 128 bits of v[target] (the rest cleared).</summary>
    public void LoadBlock(int target, MemoryOperand source) =>
        Emit(Instruction.Create(Code.VEX_Vmovdqu_xmm_xmmm128, Register.XMM0 + target, source));

    /// <summary>The low 16 bytes of v[source] to memory.</summary>
    public void StoreBlock(MemoryOperand target, int source) =>
        Emit(Instruction.Create(Code.EVEX_Vmovdqu64_xmmm128_k1z_xmm, target, Register.XMM0 + source));

    /// <summary>In each lane, the carry-less product of the low quadwords of v[left] and the memory operand.</summary>
    public void CarrylessMultiplyLow(int target, int left, MemoryOperand right) =>
        Emit(Instruction.Create(Pick(Code.EVEX_Vpclmulqdq_ymm_ymm_ymmm256_imm8, Code.EVEX_Vpclmulqdq_zmm_zmm_zmmm512_imm8), V(target), V(left), right, 0x00));

    /// <summary>Zeroes the whole register (an EVEX write at 128 bits clears the bits above it).</summary>
    public void ClearRegister(int register)
    {
        var xmm = Register.XMM0 + register;
        Emit(Instruction.Create(Code.EVEX_Vpxord_xmm_k1z_xmm_xmmm128b32, xmm, xmm, xmm));
    }

    private Register V(int number) => (_wide ? Register.ZMM0 : Register.YMM0) + number;

    private Code Pick(Code bits256, Code bits512) => _wide ? bits512 : bits256;

    private void Emit(Instruction instruction) => assembler.AddInstruction(instruction);
}
