using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BlockSim.Crypto.Xts;
using BlockSim.Crypto.Xts.Vaes;
using Iced.Intel;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace BlockSim.Crypto.Tests;

/// <summary>
/// The EVEX kernels promise to leave no round key or tweak behind in any of the 32 vector registers. A
/// generated trampoline calls a kernel and stores all 32 registers, at full width, straight after it
/// returns, before managed code can touch them; every byte must be zero.
/// </summary>
public unsafe class KernelRegisterTests(ITestOutputHelper output)
{
    private static readonly Lazy<nint> s_trampoline = new(Assemble);

    public static TheoryData<int, bool, bool> Kernels
    {
        get
        {
            var data = new TheoryData<int, bool, bool>();
            foreach (var bits in new[] { 256, 512 })
            {
                foreach (var decrypt in new[] { false, true })
                {
                    foreach (var encryptsTweak in new[] { false, true })
                    {
                        data.Add(bits, decrypt, encryptsTweak);
                    }
                }
            }

            return data;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Kernels))]
    public void Every_vector_register_is_zero_when_the_kernel_returns(int bits, bool decrypt, bool encryptsTweak)
    {
        var width = bits == 512 ? VectorWidth.Bits512 : VectorWidth.Bits256;
        if (!XtsTiers.CpuCanRunEvexVaes)
        {
            output.WriteLine($"skipped: this CPU or runtime has no AVX-512 VAES ({XtsTiers.DescribeCpu()})");
        }

        Skip.IfNot(XtsTiers.CpuCanRunEvexVaes, $"this CPU has no AVX-512 VAES ({XtsTiers.DescribeCpu()})");
        var key = DifferentialTests.RandomKey(new Random(77));
        using var aesNi = new AesNiXtsEngine(key);
        var keys = (byte*)NativeMemory.AlignedAlloc(EvexVaesKernel.KeyBytes, 64);
        var data = (byte*)NativeMemory.AlignedAlloc(4096 + 64, 64);
        var dump = (byte*)NativeMemory.AlignedAlloc(32 * 64, 64);
        try
        {
            aesNi.Key1Schedule(decrypt).CopyTo(new Span<Vector128<byte>>(keys, 15));
            aesNi.Key2Schedule().CopyTo(new Span<Vector128<byte>>(keys + EvexVaesKernel.Key2Offset, 15));
            EvexVaesKernel.WriteConstants(keys);
            new Random(5).NextBytes(new Span<byte>(data, 4096 + 64));
            var tweak = Vector128.Create((byte)0xa5);
            new Span<byte>(dump, 32 * 64).Fill(0xcc);

            // 4 KiB + one vector: the group loop and a one-vector remainder both run.
            var vectors = (4096 / (width == VectorWidth.Bits512 ? 64 : 32)) + 1;
            var kernel = (nint)EvexVaesKernel.Kernel(width, decrypt, encryptsTweak);
            var call = (delegate* unmanaged<byte*, byte*, byte*, nuint, byte*, nint, byte*, void>)s_trampoline.Value;
            call(keys, data, data, (nuint)vectors, (byte*)&tweak, kernel, dump);

            var registers = new Span<byte>(dump, 32 * 64);
            for (var register = 0; register < 32; register++)
            {
                Assert.True(registers.Slice(register * 64, 64).IndexOfAnyExcept((byte)0) < 0, $"zmm{register} is not zero after the {width} {(decrypt ? "decrypt" : "encrypt")} kernel returned");
            }

            Assert.NotEqual(Vector128.Create((byte)0xa5), tweak); // the kernel ran and wrote its tweak back
        }
        finally
        {
            NativeMemory.AlignedFree(keys);
            NativeMemory.AlignedFree(data);
            NativeMemory.AlignedFree(dump);
        }
    }

    /// <summary>
    /// <c>void trampoline(keys, source, destination, vectors, tweak, kernel, dump)</c>: the kernel's five
    /// arguments stay in their registers, the kernel is in r9 and the dump buffer is the seventh (stack) argument.
    /// </summary>
    private static nint Assemble()
    {
        var a = new Assembler(64);
        a.push(rbx);
        a.mov(rbx, __qword_ptr[rsp + 16]);
        a.call(r9);
        AssemblerRegisterZMM[] all =
        [
            zmm0, zmm1, zmm2, zmm3, zmm4, zmm5, zmm6, zmm7, zmm8, zmm9, zmm10, zmm11, zmm12, zmm13, zmm14, zmm15,
            zmm16, zmm17, zmm18, zmm19, zmm20, zmm21, zmm22, zmm23, zmm24, zmm25, zmm26, zmm27, zmm28, zmm29, zmm30, zmm31,
        ];
        for (var i = 0; i < all.Length; i++)
        {
            a.vmovdqu64(__zmmword_ptr[rbx + (64 * i)], all[i]);
        }

        a.vzeroupper();
        a.pop(rbx);
        a.ret();
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0);
        return (nint)ExecutableMemory.Map(stream.ToArray());
    }
}
