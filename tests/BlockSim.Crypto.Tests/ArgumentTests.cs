using System.Security.Cryptography;

namespace BlockSim.Crypto.Tests;

public class ArgumentTests
{
    private static readonly byte[] s_key = DifferentialTests.RandomKey(new Random(7));

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(63)]
    [InlineData(65)]
    public void A_key_of_the_wrong_length_is_refused_with_its_length(int length)
    {
        var e = Assert.Throws<ArgumentException>(() => new XtsAes256(new byte[length], XtsTier.Software));
        Assert.Contains($"got {length} bytes", e.Message);
    }

    [Theory]
    [MemberData(nameof(Tiers.Supported), MemberType = typeof(Tiers))]
    public void Equal_key_halves_are_refused(XtsTier tier)
    {
        var key = new byte[64];
        RandomNumberGenerator.Fill(key.AsSpan(0, 32));
        key.AsSpan(0, 32).CopyTo(key.AsSpan(32));
        var e = Assert.Throws<CryptographicException>(() => new XtsAes256(key, tier));
        Assert.Contains("Key1 == Key2", e.Message);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(513)]
    [InlineData(1000)]
    [InlineData(131072)]
    public void Sector_sizes_other_than_powers_of_two_from_512_to_65536_are_refused(int sectorSize)
    {
        using var xts = new XtsAes256(s_key, XtsTier.Software);
        var buffer = new byte[131072];
        Assert.Throws<ArgumentOutOfRangeException>(() => xts.EncryptSectors(buffer, 0, sectorSize));
    }

    [Fact]
    public void A_buffer_that_is_not_whole_sectors_is_refused()
    {
        using var xts = new XtsAes256(s_key, XtsTier.Software);
        var e = Assert.Throws<ArgumentException>(() => xts.EncryptSectors(new byte[1000], 0, 512));
        Assert.Contains("not a whole number", e.Message);
    }

    [Fact]
    public void Sector_numbers_past_2_pow_64_are_refused()
    {
        using var xts = new XtsAes256(s_key, XtsTier.Software);
        Assert.Throws<ArgumentOutOfRangeException>(() => xts.EncryptSectors(new byte[1024], ulong.MaxValue, 512));
        xts.EncryptSectors(new byte[512], ulong.MaxValue, 512);
    }

    [Fact]
    public void Data_units_shorter_than_a_block_and_bad_tweaks_are_refused()
    {
        using var xts = new XtsAes256(s_key, XtsTier.Software);
        Assert.Throws<ArgumentException>(() => xts.Encrypt(new byte[15], new byte[15], new byte[16]));
        Assert.Throws<ArgumentException>(() => xts.Encrypt(new byte[32], new byte[32], new byte[8]));
        Assert.Throws<ArgumentException>(() => xts.Encrypt(new byte[32], new byte[31], new byte[16]));
    }

    [Fact]
    public void Partially_overlapping_buffers_are_refused()
    {
        using var xts = new XtsAes256(s_key, XtsTier.Software);
        var buffer = new byte[2048];
        var e = Assert.Throws<ArgumentException>(() => xts.EncryptSectors(buffer.AsSpan(0, 1024), buffer.AsSpan(512, 1024), 0, 512));
        Assert.Contains("overlap", e.Message);
    }

    [Theory]
    [MemberData(nameof(Tiers.Supported), MemberType = typeof(Tiers))]
    public void A_disposed_engine_refuses_work(XtsTier tier)
    {
        var xts = new XtsAes256(s_key, tier);
        xts.Dispose();
        xts.Dispose();
        Assert.Throws<ObjectDisposedException>(() => xts.EncryptSectors(new byte[512], 0, 512));
    }

    [Fact]
    public void Disposed_secret_memory_refuses_access_and_never_shows_its_bytes()
    {
        var memory = new SecretMemory(64);
        memory.Span.Fill(0xA5);
        Assert.DoesNotContain("A5", memory.ToString(), StringComparison.OrdinalIgnoreCase);
        memory.Dispose();
        Assert.True(memory.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
    }

    [Fact]
    public void Empty_sector_runs_do_nothing()
    {
        using var xts = new XtsAes256(s_key, XtsTier.Software);
        xts.EncryptSectors([], 0, 512);
    }
}
