using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Storage.Tests;

/// <summary>The write log's checksum: the published check value, and the three-lane path equal to a bit-at-a-time CRC.</summary>
public class Crc32CTests
{
    [Fact]
    public void The_crc_is_crc32c()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8)); // the check value of CRC-32C (Castagnoli)
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32])); // RFC 3720 B.4: 32 bytes of zeros
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3 * Crc32C.Lane - 1)]
    [InlineData(3 * Crc32C.Lane)]
    [InlineData(3 * Crc32C.Lane + 7)]
    [InlineData(4096)]
    [InlineData(6 * Crc32C.Lane + 3)]
    [InlineData(131072 + 5)]
    public void Lanes_give_the_crc_a_bit_at_a_time_does(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);

        Assert.Equal(BitwiseCrc32C(data), Crc32C.Compute(data));
    }

    [Fact]
    public void A_crc_continued_across_pieces_is_the_crc_of_the_whole()
    {
        var data = new byte[20000];
        new Random(9).NextBytes(data);
        var crc = Crc32C.Initial;
        foreach (var cut in new[] { 0, 5, 4101, 4200, 15000, 20000 }.Zip(new[] { 5, 4101, 4200, 15000, 20000 }))
        {
            crc = Crc32C.Update(crc, data.AsSpan(cut.First, cut.Second - cut.First));
        }

        Assert.Equal(BitwiseCrc32C(data), Crc32C.Finish(crc));
    }

    /// <summary>The definition, one bit at a time with the reflected polynomial: shares nothing with the code under test.</summary>
    private static uint BitwiseCrc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFF_FFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return ~crc;
    }
}
