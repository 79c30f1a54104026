using System.Runtime.Intrinsics.X86;

namespace BlockSim.Crypto;

/// <summary>
/// Which XTS tiers this machine can run, and the one chosen for the process.
/// The choice is made once, on first use, from <c>BLOCKSIM_XTS_TIER</c> (<c>auto</c>, <c>vaes256</c>, <c>aesni</c>, <c>software</c>).
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
        IsSupported(XtsTier.Vaes256) ? XtsTier.Vaes256
        : IsSupported(XtsTier.AesNi) ? XtsTier.AesNi
        : XtsTier.Software;

    public static bool IsSupported(XtsTier tier) => tier switch
    {
        XtsTier.Software => true,
        XtsTier.AesNi => Aes.IsSupported && Pclmulqdq.IsSupported,
        XtsTier.Vaes256 => s_vaes256.Value,
        _ => false,
    };

    // The generated kernel is only trusted once it has given the AES-NI tier's bytes on this machine.
    private static readonly Lazy<bool> s_vaes256 = new(() => CpuCanRunVaes256 && Xts.Vaes.VaesSelfTest.Passes());

    /// <summary>The CPU and runtime have what the VAES tier needs (whether its self-test passed is another matter).</summary>
    internal static bool CpuCanRunVaes256 =>
        Aes.IsSupported && Pclmulqdq.IsSupported && Avx2.IsSupported && HasVaes && Pclmulqdq.V256.IsSupported;

    /// <summary>CPUID leaf 7: VAES is ECX bit 9 (the runtime has no flag for it, having no VAES intrinsics).</summary>
    private static bool HasVaes => X86Base.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 9)) != 0;

    /// <summary>Tiers this machine supports, fastest last.</summary>
    public static IReadOnlyList<XtsTier> Supported { get; } =
        Enum.GetValues<XtsTier>().Where(IsSupported).ToArray();

    /// <summary>The CPU features that decide the tiers, for logs and <c>blocksim info</c>.</summary>
    public static string DescribeCpu() =>
        $"aes={Aes.IsSupported} pclmulqdq={Pclmulqdq.IsSupported} avx2={Avx2.IsSupported} vaes={HasVaes} vpclmulqdq={Pclmulqdq.V256.IsSupported} avx512f={Avx512F.IsSupported}";

    /// <summary>Turns a <c>BLOCKSIM_XTS_TIER</c> value into a tier, refusing names it does not know and tiers the CPU lacks.</summary>
    public static XtsTier Choose(string? requested)
    {
        var name = requested?.Trim().ToLowerInvariant();
        XtsTier tier;
        switch (name)
        {
            case null or "" or "auto":
                return Best;
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
                    $"{EnvironmentVariable}='{requested}' is not a known XTS tier; use auto, vaes256, aesni or software.");
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
