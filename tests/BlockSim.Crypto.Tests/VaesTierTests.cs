using Xunit.Abstractions;

namespace BlockSim.Crypto.Tests;

/// <summary>
/// Each VAES tier (VEX at 256 bits; EVEX at 256 and 512 bits) against the AES-NI tier (itself checked
/// against the published vectors and OpenSSL): every data-unit length from 16 bytes to 4 KiB + 17, every
/// misalignment of source and destination, in place. The split between the generated kernel (groups of
/// vectors, then single vectors) and the AES-NI tail moves with the length, so every split point and every
/// ciphertext-stealing tail is covered.
/// </summary>
public class VaesTierTests(ITestOutputHelper output)
{
    private static readonly XtsTier[] s_vaesTiers = [XtsTier.Vaes256, XtsTier.Vaes256x, XtsTier.Vaes512];

    public static TheoryData<XtsTier> VaesTiers => new(s_vaesTiers);

    /// <summary>
    /// Skips (with the reason) only on a CPU without what the tier needs; on one with it, a kernel that
    /// failed its start-up self-test (and so was never offered) fails here instead of hiding behind a skip.
    /// </summary>
    private void Require(XtsTier tier)
    {
        if (!XtsTiers.CpuCanRun(tier))
        {
            output.WriteLine($"skipped {tier}: this CPU or runtime lacks it ({XtsTiers.DescribeCpu()})");
        }

        Skip.IfNot(XtsTiers.CpuCanRun(tier), $"this CPU has no {tier} tier ({XtsTiers.DescribeCpu()})");
        Assert.True(XtsTiers.IsSupported(tier), $"the CPU can run {tier} but the generated kernel failed its self-test against the AES-NI tier");
    }

    [SkippableTheory]
    [MemberData(nameof(VaesTiers))]
    public void Every_length_from_16_bytes_to_4_KiB_plus_17_matches_the_aesni_tier(XtsTier tier)
    {
        Require(tier);
        var random = new Random(9);
        var key = DifferentialTests.RandomKey(random);
        using var vaes = new XtsAes256(key, tier);
        using var aesNi = new XtsAes256(key, XtsTier.AesNi);
        var data = new byte[4096 + 17];
        random.NextBytes(data);
        var tweak = new byte[16];
        var expected = new byte[data.Length];
        var actual = new byte[data.Length];
        var back = new byte[data.Length];
        for (var length = 16; length <= data.Length; length++)
        {
            random.NextBytes(tweak);
            var plain = data.AsSpan(0, length);
            aesNi.Encrypt(plain, expected.AsSpan(0, length), tweak);
            vaes.Encrypt(plain, actual.AsSpan(0, length), tweak);
            Assert.True(expected.AsSpan(0, length).SequenceEqual(actual.AsSpan(0, length)), $"{tier}: encrypt differs at length {length}");
            vaes.Decrypt(actual.AsSpan(0, length), back.AsSpan(0, length), tweak);
            Assert.True(plain.SequenceEqual(back.AsSpan(0, length)), $"{tier}: decrypt does not round-trip at length {length}");
        }

        output.WriteLine($"{tier}: compared {data.Length - 15} lengths");
    }

    public static TheoryData<XtsTier, int> MisalignmentCases
    {
        get
        {
            var data = new TheoryData<XtsTier, int>();
            foreach (var tier in s_vaesTiers)
            {
                foreach (var length in new[] { 4096, 4096 + 17, (5 * 256) + 5, 1024, 512 + 48 })
                {
                    data.Add(tier, length);
                }
            }

            return data;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(MisalignmentCases))]
    public void Every_misalignment_of_source_and_destination_gives_the_same_bytes(XtsTier tier, int length)
    {
        Require(tier);
        var random = new Random(length);
        var key = DifferentialTests.RandomKey(random);
        using var vaes = new XtsAes256(key, tier);
        using var aesNi = new XtsAes256(key, XtsTier.AesNi);
        var plain = new byte[length];
        random.NextBytes(plain);
        var tweak = new byte[16];
        random.NextBytes(tweak);
        var expected = new byte[length];
        aesNi.Encrypt(plain, expected, tweak);

        var source = new byte[length + 64];
        var destination = new byte[length + 64];
        for (var from = 0; from < 64; from += 1)
        {
            for (var to = 0; to < 64; to += 7)
            {
                plain.CopyTo(source, from);
                vaes.Encrypt(source.AsSpan(from, length), destination.AsSpan(to, length), tweak);
                Assert.True(expected.AsSpan().SequenceEqual(destination.AsSpan(to, length)), $"{tier}: source +{from}, destination +{to}");
                vaes.Decrypt(destination.AsSpan(to, length), source.AsSpan(from, length), tweak);
                Assert.True(plain.AsSpan().SequenceEqual(source.AsSpan(from, length)), $"{tier}: decrypt, source +{to}, destination +{from}");
            }
        }
    }

    [SkippableTheory]
    [MemberData(nameof(VaesTiers))]
    public void In_place_sector_runs_match_the_aesni_tier(XtsTier tier)
    {
        Require(tier);
        var random = new Random(4);
        var key = DifferentialTests.RandomKey(random);
        using var vaes = new XtsAes256(key, tier);
        using var aesNi = new XtsAes256(key, XtsTier.AesNi);
        // Nine sectors take the batched-tweak path; one sector the path where the kernel encrypts the tweak.
        foreach (var (sectorSize, sectors) in new[] { (512, 9), (4096, 9), (65536, 9), (512, 1), (4096, 1), (65536, 1) })
        {
            var buffer = new byte[sectorSize * sectors];
            random.NextBytes(buffer);
            var expected = buffer.ToArray();
            aesNi.EncryptSectors(expected, 1UL << 40, sectorSize);
            var actual = buffer.ToArray();
            vaes.EncryptSectors(actual, 1UL << 40, sectorSize);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{tier}: {sectors} x {sectorSize}-byte sectors differ");
            vaes.DecryptSectors(actual, 1UL << 40, sectorSize);
            Assert.True(buffer.AsSpan().SequenceEqual(actual), $"{tier}: {sectors} x {sectorSize}-byte sectors do not round-trip");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(VaesTiers))]
    public void Each_tier_is_chosen_when_asked_for_by_name(XtsTier tier)
    {
        Require(tier);
        Assert.Equal(tier, XtsTiers.Choose(tier.ToString().ToLowerInvariant()));
        Assert.True(XtsTiers.Best >= XtsTier.Vaes256, $"auto picked {XtsTiers.Best} on a machine with {tier}");
    }
}
