using System.Buffers.Binary;
using Xunit.Abstractions;

namespace BlockSim.Crypto.Tests;

/// <summary>
/// Randomised comparisons: every tier against OpenSSL's libcrypto (and so against each other), over many
/// lengths with and without a partial last block, in place and out of place, at odd buffer alignments.
/// Seeds are fixed and printed so a failure can be replayed.
/// </summary>
public class DifferentialTests(ITestOutputHelper output)
{
    private static readonly int[] s_edgeLengths =
        [16, 17, 31, 32, 33, 47, 48, 127, 128, 129, 143, 255, 256, 257, 271, 511, 512, 513, 4095, 4096, 4097, 4096 + 17, 65535, 65536];

    public static TheoryData<int> Seeds => new() { 1, 2, 3 };

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Data_units_match_openssl_on_every_tier(int seed)
    {
        RequireOpenSsl();
        var random = new Random(seed);
        var lengths = s_edgeLengths.Concat(Enumerable.Range(0, 40).Select(_ => random.Next(16, 65537)));
        var compared = 0;
        foreach (var length in lengths)
        {
            var key = RandomKey(random);
            var tweak = new byte[16];
            random.NextBytes(tweak);
            var plaintext = new byte[length];
            random.NextBytes(plaintext);
            var expected = OpenSslXts.Encrypt(key, tweak, plaintext);
            Assert.Equal(plaintext, OpenSslXts.Decrypt(key, tweak, expected));

            foreach (var tier in XtsTiers.Supported)
            {
                using var xts = new XtsAes256(key, tier);
                var where = $"seed {seed}, tier {tier}, length {length}";

                var ciphertext = new byte[length];
                xts.Encrypt(plaintext, ciphertext, tweak);
                AssertSame(expected, ciphertext, $"{where}, out of place");

                var inPlace = plaintext.ToArray();
                xts.Encrypt(inPlace, inPlace, tweak);
                AssertSame(expected, inPlace, $"{where}, in place");
                xts.Decrypt(inPlace, inPlace, tweak);
                AssertSame(plaintext, inPlace, $"{where}, in place decrypt");

                // Misaligned source and destination (1..15 bytes off a 16-byte boundary, and different from each other).
                var shift = random.Next(1, 16);
                var src = new byte[length + 32];
                var dst = new byte[length + 32];
                expected.CopyTo(src, shift);
                xts.Decrypt(src.AsSpan(shift, length), dst.AsSpan(16 - shift, length), tweak);
                AssertSame(plaintext, dst.AsSpan(16 - shift, length).ToArray(), $"{where}, misaligned decrypt");
                compared++;
            }
        }

        output.WriteLine($"seed {seed}: {compared} comparisons against OpenSSL on tiers {string.Join(", ", XtsTiers.Supported)}");
        Assert.True(compared >= s_edgeLengths.Length);
    }

    [Theory]
    [InlineData(512, 1, 0UL)]
    [InlineData(512, 40, 1000UL)]
    [InlineData(4096, 17, 123456789UL)]
    [InlineData(1024, 33, ulong.MaxValue - 32)]
    [InlineData(65536, 2, 7UL)]
    public void Sector_runs_match_openssl_sector_by_sector(int sectorSize, int sectors, ulong firstSector)
    {
        RequireOpenSsl();
        var random = new Random(sectorSize ^ sectors);
        var key = RandomKey(random);
        var plaintext = new byte[sectorSize * sectors];
        random.NextBytes(plaintext);
        var expected = new byte[plaintext.Length];
        for (var i = 0; i < sectors; i++)
        {
            var tweak = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(tweak, firstSector + (ulong)i);
            OpenSslXts.Encrypt(key, tweak, plaintext.AsSpan(i * sectorSize, sectorSize).ToArray()).CopyTo(expected, i * sectorSize);
        }

        foreach (var tier in XtsTiers.Supported)
        {
            using var xts = new XtsAes256(key, tier);
            var ciphertext = new byte[plaintext.Length];
            xts.EncryptSectors(plaintext, ciphertext, firstSector, sectorSize);
            AssertSame(expected, ciphertext, $"tier {tier}, encrypt");
            var roundTrip = ciphertext.ToArray();
            xts.DecryptSectors(roundTrip, firstSector, sectorSize);
            AssertSame(plaintext, roundTrip, $"tier {tier}, decrypt");
        }
    }

    [Fact]
    public void Tiers_agree_with_each_other_on_long_multi_sector_runs()
    {
        var random = new Random(42);
        var key = RandomKey(random);
        var plaintext = new byte[512 * 100];
        random.NextBytes(plaintext);
        var results = XtsTiers.Supported.Select(tier =>
        {
            using var xts = new XtsAes256(key, tier);
            var c = new byte[plaintext.Length];
            xts.EncryptSectors(plaintext, c, 77, 512);
            return c;
        }).ToArray();
        Assert.All(results, r => AssertSame(results[0], r, "tiers disagree"));
        Assert.NotEqual(plaintext, results[0]);
    }

    internal static byte[] RandomKey(Random random)
    {
        var key = new byte[64];
        do
        {
            random.NextBytes(key);
        }
        while (key.AsSpan(0, 32).SequenceEqual(key.AsSpan(32)));

        return key;
    }

    private static void AssertSame(byte[] expected, byte[] actual, string where)
    {
        if (!expected.AsSpan().SequenceEqual(actual))
        {
            var at = expected.AsSpan().CommonPrefixLength(actual);
            Assert.Fail($"{where}: first difference at byte {at} of {expected.Length}");
        }
    }

    private static void RequireOpenSsl()
    {
        // libcrypto.so.3 is part of every Debian 12 base system; a machine without it cannot run this oracle.
        Assert.True(OpenSslXts.IsAvailable, "libcrypto.so.3 (OpenSSL 3) is needed as the test oracle: apt-get install libssl3");
    }
}
