using System.Runtime.Intrinsics.X86;

namespace BlockSim.Crypto;

/// <summary>
/// Which XTS tiers this machine can run, and the one chosen for the process.
/// The choice is made once, on first use, from <c>BLOCKSIM_XTS_TIER</c> (<c>auto</c>, <c>vaes512</c>, <c>vaes256x</c>, <c>vaes256</c>, <c>aesni</c>, <c>software</c>).
/// </summary>
public static class XtsTiers
{
    public const string EnvironmentVariable = "BLOCKSIM_XTS_TIER";

    // Lazy caches a failure too, so a bad setting is reported the same way on every use.
    private static readonly Lazy<XtsTier> s_default = new(() => Choose(Environment.GetEnvironmentVariable(EnvironmentVariable)));

    /// <summary>The tier every engine built without an explicit tier uses. Throws if the environment asks for one this CPU lacks.</summary>
    public static XtsTier Default => s_default.Value;

    /// <summary>The fastest tier this machine supports.</summary>
    public static XtsTier Best =>
        IsSupported(XtsTier.Vaes512) && !PrefersYmm ? XtsTier.Vaes512
        : IsSupported(XtsTier.Vaes256x) ? XtsTier.Vaes256x
        : IsSupported(XtsTier.Vaes256) ? XtsTier.Vaes256
        : IsSupported(XtsTier.AesNi) ? XtsTier.AesNi
        : XtsTier.Software;

    public static bool IsSupported(XtsTier tier) => tier switch
    {
        XtsTier.Software => true,
        XtsTier.AesNi => Aes.IsSupported && Pclmulqdq.IsSupported,
        XtsTier.Vaes256 => s_vaes256.Value,
        XtsTier.Vaes256x => s_vaes256x.Value,
        XtsTier.Vaes512 => s_vaes512.Value,
        _ => false,
    };

    // A generated kernel is only trusted once it has given the AES-NI tier's bytes on this machine.
    private static readonly Lazy<bool> s_vaes256 = new(() =>
        CpuCanRunVaes256 && Xts.Vaes.VaesSelfTest.Passes(key => new Xts.VaesXtsEngine(key)));

    private static readonly Lazy<bool> s_vaes256x = new(() =>
        CpuCanRunEvexVaes && Xts.Vaes.VaesSelfTest.Passes(key => new Xts.EvexVaesXtsEngine(key, Xts.Vaes.VectorWidth.Bits256)));

    private static readonly Lazy<bool> s_vaes512 = new(() =>
        CpuCanRunEvexVaes && Xts.Vaes.VaesSelfTest.Passes(key => new Xts.EvexVaesXtsEngine(key, Xts.Vaes.VectorWidth.Bits512)));

    /// <summary>Whether the CPU and runtime have what a tier needs, before any self-test.</summary>
    internal static bool CpuCanRun(XtsTier tier) => tier switch
    {
        XtsTier.Vaes256 => CpuCanRunVaes256,
        XtsTier.Vaes256x or XtsTier.Vaes512 => CpuCanRunEvexVaes,
        _ => IsSupported(tier),
    };

    /// <summary>The CPU and runtime have what the VAES tier needs (whether its self-test passed is another matter).</summary>
    internal static bool CpuCanRunVaes256 =>
        Aes.IsSupported && Pclmulqdq.IsSupported && Avx2.IsSupported && HasVaes && Pclmulqdq.V256.IsSupported;

    /// <summary>
    /// The CPU, the OS (which must save the AVX-512 state, as the runtime's flags reflect) and the runtime
    /// have what the EVEX tiers use: AVX-512F, BW (byte shifts of zmm), VL (EVEX at 256 bits and on
    /// registers 16-31 at 128), and VPCLMULQDQ at 512 bits.
    /// </summary>
    internal static bool CpuCanRunEvexVaes =>
        CpuCanRunVaes256 && Avx512F.IsSupported && Avx512BW.IsSupported && Avx512F.VL.IsSupported &&
        Avx512BW.VL.IsSupported && Pclmulqdq.V512.IsSupported;

    /// <summary>
    /// Intel parts before Sapphire Rapids lower their clock for 512-bit work, so on Intel the 256-bit EVEX
    /// tier is preferred, as the Linux kernel does for its XTS code; AMD's Zen 4 and Zen 5 do not.
    /// </summary>
    private static bool PrefersYmm => X86Base.IsSupported && !IsAmd;

    private static bool IsAmd
    {
        get
        {
            var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
            return ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163; // "AuthenticAMD"
        }
    }

    /// <summary>CPUID leaf 7: VAES is ECX bit 9 (the runtime has no flag for it, having no VAES intrinsics).</summary>
    private static bool HasVaes => X86Base.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 9)) != 0;

    /// <summary>Tiers this machine supports, fastest last.</summary>
    // Lazy: listing them runs every generated tier's self-test, which choosing one need not pay for.
    public static IReadOnlyList<XtsTier> Supported => s_supported.Value;

    private static readonly Lazy<XtsTier[]> s_supported = new(() => Enum.GetValues<XtsTier>().Where(IsSupported).ToArray());

    /// <summary>The CPU features that decide the tiers, for logs and <c>blocksim info</c>.</summary>
    public static string DescribeCpu() =>
        $"aes={Aes.IsSupported} pclmulqdq={Pclmulqdq.IsSupported} avx2={Avx2.IsSupported} vaes={HasVaes} vpclmulqdq={Pclmulqdq.V256.IsSupported} " +
        $"avx512f={Avx512F.IsSupported} avx512bw={Avx512BW.IsSupported} avx512vl={Avx512F.VL.IsSupported} vpclmulqdq512={Pclmulqdq.V512.IsSupported}";

    /// <summary>Turns a <c>BLOCKSIM_XTS_TIER</c> value into a tier, refusing names it does not know and tiers the CPU lacks.</summary>
    public static XtsTier Choose(string? requested)
    {
        var name = requested?.Trim().ToLowerInvariant();
        XtsTier tier;
        switch (name)
        {
            case null or "" or "auto":
                return Best;
            case "vaes512":
                tier = XtsTier.Vaes512;
                break;
            case "vaes256x":
                tier = XtsTier.Vaes256x;
                break;
            case "vaes256" or "vaes":
                tier = XtsTier.Vaes256;
                break;
            case "aesni" or "aes-ni":
                tier = XtsTier.AesNi;
                break;
            case "software" or "soft":
                tier = XtsTier.Software;
                break;
            default:
                throw new InvalidOperationException(
                    $"{EnvironmentVariable}='{requested}' is not a known XTS tier; use auto, vaes512, vaes256x, vaes256, aesni or software.");
        }

        if (!IsSupported(tier))
        {
            throw new PlatformNotSupportedException(
                $"{EnvironmentVariable}={name} asks for the {tier} XTS tier, but this CPU or runtime lacks it ({DescribeCpu()}); " +
                "unset the variable or use auto to pick the best available tier.");
        }

        return tier;
    }
}
