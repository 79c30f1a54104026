using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace BlockSim.Crypto.Xts.Vaes;

/// <summary>
/// The XTS bulk loop on VAES and VPCLMULQDQ at 256 bits (two blocks per AES instruction), generated at
/// start-up with the Iced assembler because .NET has only 128-bit AES intrinsics. One call runs whole
/// groups of 16 blocks (256 bytes):
/// <code>
/// void kernel(byte* keys, byte* source, byte* destination, nuint groups, byte* tweaks, byte* scratch)
/// </code>
/// <c>keys</c>: 15 round keys, each repeated in both 128-bit lanes (480 bytes), then the reduction constant
/// 0x87 in the low quadword of each lane (32 bytes). <c>tweaks</c>: 32 bytes, the tweaks of the first two
/// blocks on entry, of the two blocks after the last on return. <c>scratch</c>: 512 bytes, zeroed on return.
/// Every vector register is cleared on return (vzeroall), so no key or tweak is left behind.
/// </summary>
internal static unsafe class VaesKernel
{
    public const int GroupBlocks = 16;
    public const int GroupBytes = GroupBlocks * 16;
    public const int KeyBytes = 15 * 32 + 32;
    public const int ConstantOffset = 15 * 32;
    public const int ScratchBytes = 2 * GroupBytes;

    private const int Rounds = 14;
    private const int Lanes = 8;   // data registers: 8 x 2 blocks in flight keep both AES pipes busy

    private static readonly Lazy<(nint Encrypt, nint Decrypt)> s_code = new(Generate);

    /// <summary>The encryption kernel (VAESENC); its keys are the encryption schedule of Key1.</summary>
    public static delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, byte*, void> Encrypt =>
        (delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, byte*, void>)s_code.Value.Encrypt;

    /// <summary>The decryption kernel (VAESDEC); its keys are the equivalent-inverse-cipher schedule of Key1.</summary>
    public static delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, byte*, void> Decrypt =>
        (delegate* unmanaged[SuppressGCTransition]<byte*, byte*, byte*, nuint, byte*, byte*, void>)s_code.Value.Decrypt;

    private static (nint, nint) Generate()
    {
        var encrypt = Assemble(decrypt: false);
        var decrypt = Assemble(decrypt: true);
        var code = new byte[encrypt.Length + decrypt.Length];
        encrypt.CopyTo(code, 0);
        decrypt.CopyTo(code, encrypt.Length);
        var at = (nint)ExecutableMemory.Map(code);
        return (at, at + encrypt.Length);
    }

    /// <summary>
    /// System V arguments: rdi keys, rsi source, rdx destination, rcx groups (at least 1), r8 tweaks,
    /// r9 scratch. ymm0-7 hold data, ymm8-10 tweak arithmetic, ymm12 the constant.
    /// The tweaks of each group sit in one half of the scratch; the next group's are computed into the other
    /// half between the AES rounds of this one, where they cost no AES-unit time.
    /// </summary>
    private static byte[] Assemble(bool decrypt)
    {
        var a = new Assembler(64);
        AssemblerRegisterYMM[] data = [ymm0, ymm1, ymm2, ymm3, ymm4, ymm5, ymm6, ymm7];
        var current = r10;
        var next = r11;

        a.mov(current, r9);
        a.lea(next, __[r9 + GroupBytes]);
        a.vmovdqu(ymm8, __ymmword_ptr[r8]);
        a.vmovdqu(ymm12, __ymmword_ptr[rdi + ConstantOffset]);
        for (var i = 0; i < Lanes; i++)
        {
            a.vmovdqu(__ymmword_ptr[current + (32 * i)], ymm8);
            TimesXPower(a, 2);
        }

        var loop = a.CreateLabel();
        a.Label(ref loop);
        for (var i = 0; i < Lanes; i++)
        {
            a.vmovdqu(data[i], __ymmword_ptr[rsi + (32 * i)]);
            a.vpxor(data[i], data[i], __ymmword_ptr[current + (32 * i)]);
            a.vpxor(data[i], data[i], __ymmword_ptr[rdi]);
        }

        for (var round = 1; round < Rounds; round++)
        {
            foreach (var register in data)
            {
                if (decrypt)
                {
                    a.vaesdec(register, register, __ymmword_ptr[rdi + (32 * round)]);
                }
                else
                {
                    a.vaesenc(register, register, __ymmword_ptr[rdi + (32 * round)]);
                }
            }

            if (round <= Lanes)
            {
                // Each pair of the next group is this group's pair times x^16: eight independent
                // computations, not a chain, so they overlap with each other and with the AES rounds.
                a.vmovdqu(ymm8, __ymmword_ptr[current + (32 * (round - 1))]);
                TimesXPower(a, GroupBlocks);
                a.vmovdqu(__ymmword_ptr[next + (32 * (round - 1))], ymm8);
            }
        }

        for (var i = 0; i < Lanes; i++)
        {
            if (decrypt)
            {
                a.vaesdeclast(data[i], data[i], __ymmword_ptr[rdi + (32 * Rounds)]);
            }
            else
            {
                a.vaesenclast(data[i], data[i], __ymmword_ptr[rdi + (32 * Rounds)]);
            }

            a.vpxor(data[i], data[i], __ymmword_ptr[current + (32 * i)]);
            a.vmovdqu(__ymmword_ptr[rdx + (32 * i)], data[i]);
        }

        a.xchg(current, next);
        a.add(rsi, GroupBytes);
        a.add(rdx, GroupBytes);
        a.dec(rcx);
        a.jnz(loop);

        // The tweaks of the next two blocks are the first pair computed for the group that did not come.
        a.vmovdqu(ymm8, __ymmword_ptr[current]);
        a.vmovdqu(__ymmword_ptr[r8], ymm8);
        a.vpxor(ymm0, ymm0, ymm0);
        for (var i = 0; i < ScratchBytes / 32; i++)
        {
            a.vmovdqu(__ymmword_ptr[r9 + (32 * i)], ymm0);
        }

        a.vzeroall();
        a.ret();

        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0);
        return stream.ToArray();
    }

    /// <summary>
    /// ymm8 = ymm8 * x^k in GF(2^128), in each 128-bit lane (XTS order: the lane is a little-endian 128-bit
    /// number), for 1 &lt;= k &lt;= 56. Shift both quadwords left by k; the k bits leaving the low quadword enter
    /// the high one; the k bits leaving the top are reduced by a carry-less multiply with 0x87 (x^128 = x^7 +
    /// x^2 + x + 1), which fits in the low quadword.
    /// </summary>
    private static void TimesXPower(Assembler a, int k)
    {
        a.vpsrlq(ymm9, ymm8, (byte)(64 - k));
        a.vpsllq(ymm8, ymm8, (byte)k);
        a.vpslldq(ymm10, ymm9, 8);
        a.vpsrldq(ymm9, ymm9, 8);
        a.vpclmulqdq(ymm9, ymm9, ymm12, 0);
        a.vpxor(ymm8, ymm8, ymm10);
        a.vpxor(ymm8, ymm8, ymm9);
    }
}
