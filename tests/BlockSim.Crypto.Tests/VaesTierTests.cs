using Xunit.Abstractions;

namespace BlockSim.Crypto.Tests;

/// <summary>
/// The VAES tier against the AES-NI tier (itself checked against the published vectors and OpenSSL): every
/// data-unit length from 16 bytes to 4 KiB + 17, every misalignment of source and destination, in place.
/// The split between the generated kernel (whole groups of 16 blocks) and the AES-NI tail moves with the
/// length, so every split point and every ciphertext-stealing tail is covered.
/// </summary>
public class VaesTierTests(ITestOutputHelper output)
{
    /// <summary>
    /// Skips (with the reason) only on a CPU without VAES; on one with it, a kernel that failed its start-up
    /// self-test (and so was never offered) fails here instead of hiding behind a skip.
    /// </summary>
    private static void RequireVaes()
    {
        Skip.IfNot(XtsTiers.CpuCanRunVaes256, $"this CPU has no VAES tier ({XtsTiers.DescribeCpu()})");
        Assert.True(XtsTiers.IsSupported(XtsTier.Vaes256), "the CPU has VAES but the generated kernel failed its self-test against the AES-NI tier");
    }

    [SkippableFact]
    public void Every_length_from_16_bytes_to_4_KiB_plus_17_matches_the_aesni_tier()
    {
        RequireVaes();
        var random = new Random(9);
        var key = DifferentialTests.RandomKey(random);
        using var vaes = new XtsAes256(key, XtsTier.Vaes256);
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
            Assert.True(expected.AsSpan(0, length).SequenceEqual(actual.AsSpan(0, length)), $"encrypt differs at length {length}");
            vaes.Decrypt(actual.AsSpan(0, length), back.AsSpan(0, length), tweak);
            Assert.True(plain.SequenceEqual(back.AsSpan(0, length)), $"decrypt does not round-trip at length {length}");
        }

        output.WriteLine($"compared {data.Length - 15} lengths");
    }

    [SkippableTheory]
    [InlineData(4096)]
    [InlineData(4096 + 17)]
    [InlineData((5 * 256) + 5)]
    [InlineData(1024)]
    public void Every_misalignment_of_source_and_destination_gives_the_same_bytes(int length)
    {
        RequireVaes();
        var random = new Random(length);
        var key = DifferentialTests.RandomKey(random);
        using var vaes = new XtsAes256(key, XtsTier.Vaes256);
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
                Assert.True(expected.AsSpan().SequenceEqual(destination.AsSpan(to, length)), $"source +{from}, destination +{to}");
                vaes.Decrypt(destination.AsSpan(to, length), source.AsSpan(from, length), tweak);
                Assert.True(plain.AsSpan().SequenceEqual(source.AsSpan(from, length)), $"decrypt, source +{to}, destination +{from}");
            }
        }
    }

    [SkippableFact]
    public void In_place_sector_runs_match_the_aesni_tier()
    {
        RequireVaes();
        var random = new Random(4);
        var key = DifferentialTests.RandomKey(random);
        using var vaes = new XtsAes256(key, XtsTier.Vaes256);
        using var aesNi = new XtsAes256(key, XtsTier.AesNi);
        var buffer = new byte[4096 * 9];
        random.NextBytes(buffer);
        var expected = buffer.ToArray();
        aesNi.EncryptSectors(expected, 1UL << 40, 4096);
        var actual = buffer.ToArray();
        vaes.EncryptSectors(actual, 1UL << 40, 4096);
        Assert.Equal(expected, actual);
        vaes.DecryptSectors(actual, 1UL << 40, 4096);
        Assert.Equal(buffer, actual);
    }

    [SkippableFact]
    public void Vaes256_is_chosen_when_asked_for_and_is_the_best_tier_here()
    {
        RequireVaes();
        Assert.Equal(XtsTier.Vaes256, XtsTiers.Choose("vaes256"));
        Assert.Equal(XtsTier.Vaes256, XtsTiers.Best);
    }
}
