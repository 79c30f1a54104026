using System.Security.Cryptography;

namespace BlockSim.Crypto.Tests;

public class KnownAnswerTests
{
    [Fact]
    public void The_vector_file_holds_every_published_vector()
    {
        Assert.Equal(1356, XtsVectors.All.Count);
        Assert.Equal(66, XtsVectors.All.Count(v => v.Plaintext.Length % 16 != 0));
    }

    [Theory]
    [MemberData(nameof(Tiers.Supported), MemberType = typeof(Tiers))]
    public void Every_vector_encrypts_and_decrypts_on_the_tier(XtsTier tier)
    {
        var failures = new List<string>();
        var checkedCount = 0;
        foreach (var v in XtsVectors.All.Where(v => !HasEqualHalves(v.Key)))
        {
            using var xts = new XtsAes256(v.Key, tier);
            var ciphertext = new byte[v.Plaintext.Length];
            xts.Encrypt(v.Plaintext, ciphertext, v.Tweak);
            var plaintext = new byte[v.Ciphertext.Length];
            xts.Decrypt(v.Ciphertext, plaintext, v.Tweak);
            if (!ciphertext.AsSpan().SequenceEqual(v.Ciphertext))
            {
                failures.Add($"encrypt {v}");
            }

            if (!plaintext.AsSpan().SequenceEqual(v.Plaintext))
            {
                failures.Add($"decrypt {v}");
            }

            checkedCount++;
        }

        Assert.Empty(failures);
        Assert.Equal(1355, checkedCount);
    }

    [Theory]
    [MemberData(nameof(Tiers.Supported), MemberType = typeof(Tiers))]
    public void The_vector_with_equal_key_halves_is_refused(XtsTier tier)
    {
        var weak = Assert.Single(XtsVectors.All, v => HasEqualHalves(v.Key));
        Assert.Equal("gladman_gentest", weak.Group);
        Assert.Throws<CryptographicException>(() => new XtsAes256(weak.Key, tier));
    }

    [Theory]
    [MemberData(nameof(Tiers.Supported), MemberType = typeof(Tiers))]
    public void Sector_api_matches_the_vectors_with_sector_number_tweaks(XtsTier tier)
    {
        // The IEEE 1619 Annex B vectors use 512-byte data units with the unit number as tweak: exactly
        // the sector API's "plain64" tweak when the number fits in 64 bits.
        var sectorVectors = XtsVectors.All
            .Where(v => v.Plaintext.Length == 512 && v.Tweak.AsSpan(8).IndexOfAnyExcept((byte)0) < 0 && !HasEqualHalves(v.Key))
            .ToArray();
        Assert.NotEmpty(sectorVectors);
        foreach (var v in sectorVectors)
        {
            using var xts = new XtsAes256(v.Key, tier);
            var sector = BitConverter.ToUInt64(v.Tweak, 0);
            var buffer = v.Plaintext.ToArray();
            xts.EncryptSectors(buffer, sector, 512);
            Assert.Equal(v.Ciphertext, buffer);
            xts.DecryptSectors(buffer, sector, 512);
            Assert.Equal(v.Plaintext, buffer);
        }
    }

    private static bool HasEqualHalves(byte[] key) => key.AsSpan(0, 32).SequenceEqual(key.AsSpan(32));
}
