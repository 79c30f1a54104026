using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using Xunit.Abstractions;

namespace BlockSim.Crypto.Tests;

public class TierSelectionTests(ITestOutputHelper output)
{
    /// <summary>Set by <see cref="Suite_passes_again_in_a_child_process_with_aes_instructions_off"/> for the child run.</summary>
    private const string ExpectedTierVariable = "BLOCKSIM_TEST_EXPECT_XTS_TIER";

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("auto")]
    [InlineData(" AUTO ")]
    public void Auto_picks_the_best_tier(string? value) => Assert.Equal(XtsTiers.Best, XtsTiers.Choose(value));

    [Fact]
    public void Software_can_always_be_forced()
    {
        Assert.Equal(XtsTier.Software, XtsTiers.Choose("software"));
        Assert.True(XtsTiers.IsSupported(XtsTier.Software));
    }

    [Fact]
    public void Aesni_is_chosen_when_asked_for_or_refused_clearly()
    {
        if (Aes.IsSupported && Pclmulqdq.IsSupported)
        {
            Assert.Equal(XtsTier.AesNi, XtsTiers.Choose("aesni"));
            Assert.True(XtsTiers.Best >= XtsTier.AesNi, $"auto picked {XtsTiers.Best} on a CPU with AES-NI");
        }
        else
        {
            var e = Assert.Throws<PlatformNotSupportedException>(() => XtsTiers.Choose("aesni"));
            Assert.Contains("lacks it", e.Message);
            Assert.Equal(XtsTier.Software, XtsTiers.Best);
        }
    }

    [Fact]
    public void Auto_picks_the_widest_tier_this_cpu_runs_at_full_clock()
    {
        // 512 bits where the CPU runs it without slowing down (AMD here), else the 256-bit EVEX tier, else
        // the VEX one; whichever this machine has.
        var amd = X86Base.IsSupported && X86Base.CpuId(0, 0) is (_, 0x68747541, 0x444d4163, 0x69746e65);
        var expected = XtsTiers.IsSupported(XtsTier.Vaes512) && amd ? XtsTier.Vaes512
            : XtsTiers.IsSupported(XtsTier.Vaes256x) ? XtsTier.Vaes256x
            : XtsTiers.IsSupported(XtsTier.Vaes256) ? XtsTier.Vaes256
            : XtsTiers.IsSupported(XtsTier.AesNi) ? XtsTier.AesNi
            : XtsTier.Software;
        output.WriteLine($"auto: {XtsTiers.Best}; supported: {string.Join(", ", XtsTiers.Supported)}; AMD: {amd}");
        Assert.Equal(expected, XtsTiers.Best);
    }

    [Fact]
    public void An_unknown_tier_name_is_a_clear_error()
    {
        var e = Assert.Throws<InvalidOperationException>(() => XtsTiers.Choose("vaes9000"));
        Assert.Contains("auto, vaes512, vaes256x, vaes256, aesni or software", e.Message);
    }

    [Fact]
    public void The_default_tier_is_the_one_this_run_expects()
    {
        // In a normal run this is the best tier. In the child run below (AES instructions switched off in
        // the runtime) the parent says what it expects, and this asserts the engine really fell back.
        var expected = Environment.GetEnvironmentVariable(ExpectedTierVariable);
        var tier = XtsTiers.Default;
        output.WriteLine($"default XTS tier: {tier}; CPU: {XtsTiers.DescribeCpu()}");
        if (expected is null)
        {
            Assert.Equal(XtsTiers.Choose(Environment.GetEnvironmentVariable(XtsTiers.EnvironmentVariable)), tier);
        }
        else
        {
            Assert.Equal(Enum.Parse<XtsTier>(expected), tier);
            using var xts = new XtsAes256(DifferentialTests.RandomKey(new Random(1)));
            Assert.Equal(tier, xts.Tier);
        }
    }

    [Fact]
    [Trait("Category", "ChildProcess")]
    public async Task Suite_passes_again_in_a_child_process_with_aes_instructions_off()
    {
        if (Environment.GetEnvironmentVariable(ExpectedTierVariable) is not null)
        {
            return; // this is already the child; never recurse
        }

        var text = await RunSuiteInChild(new() { ["DOTNET_EnableAES"] = "0" }, XtsTier.Software);
        Assert.Contains("aes=False", text);
    }

    /// <summary>
    /// With AVX-512 switched off in the runtime (as an OS that does not save its state would leave it), the
    /// EVEX tiers must not be offered and auto must fall back to the VEX VAES tier, the rest passing as before.
    /// </summary>
    [SkippableFact]
    [Trait("Category", "ChildProcess")]
    public async Task Suite_passes_again_in_a_child_process_with_avx512_off()
    {
        if (Environment.GetEnvironmentVariable(ExpectedTierVariable) is not null)
        {
            return; // this is already the child; never recurse
        }

        if (!XtsTiers.CpuCanRunEvexVaes)
        {
            output.WriteLine($"skipped: no AVX-512 VAES here to switch off ({XtsTiers.DescribeCpu()})");
        }

        Skip.IfNot(XtsTiers.CpuCanRunEvexVaes, $"no AVX-512 VAES here to switch off ({XtsTiers.DescribeCpu()})");
        var text = await RunSuiteInChild(new() { ["DOTNET_EnableAVX512"] = "0", ["DOTNET_EnableAVX512F"] = "0" }, XtsTier.Vaes256);
        Assert.Contains("avx512f=False", text);
        Assert.Contains("no Vaes512 tier", text);
    }

    private async Task<string> RunSuiteInChild(Dictionary<string, string> environment, XtsTier expected)
    {
        var assembly = typeof(TierSelectionTests).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "test", assembly, "--filter", "Category!=ChildProcess", "--logger", "console;verbosity=detailed" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment[ExpectedTierVariable] = expected.ToString();
        start.Environment.Remove(XtsTiers.EnvironmentVariable);

        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await child.WaitForExitAsync(timeout.Token);
        var text = await stdout + await stderr;
        output.WriteLine(text.Length > 4000 ? text[^4000..] : text);

        Assert.Equal(0, child.ExitCode);
        Assert.Contains($"default XTS tier: {expected}", text);
        Assert.Contains("Test Run Successful.", text);
        Assert.Matches(@"Passed:\s+[1-9]\d*", text);
        return text;
    }
}
