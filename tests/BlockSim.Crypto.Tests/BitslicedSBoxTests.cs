using BlockSim.Crypto.Xts.Bitsliced;

namespace BlockSim.Crypto.Tests;

public class BitslicedSBoxTests
{
    [Fact]
    public void Forward_circuit_is_the_aes_sbox_for_all_256_inputs()
    {
        var actual = Apply(inverse: false);
        var expected = Enumerable.Range(0, 256).Select(x => ReferenceSBox((byte)x)).ToArray();
        Assert.Equal(expected, actual);
        Assert.Equal(0x63, actual[0x00]);
        Assert.Equal(0xED, actual[0x53]);
    }

    [Fact]
    public void Inverse_circuit_undoes_the_forward_one_for_all_256_inputs()
    {
        var inverse = Apply(inverse: true);
        for (var x = 0; x < 256; x++)
        {
            Assert.Equal(x, inverse[ReferenceSBox((byte)x)]);
        }
    }

    /// <summary>Runs the bitsliced S-box over the 256 byte values (one 256-byte batch).</summary>
    private static byte[] Apply(bool inverse)
    {
        var bytes = Enumerable.Range(0, 256).Select(x => (byte)x).ToArray();
        BitslicedAes.SubBytes(bytes, inverse);
        return bytes;
    }

    /// <summary>The S-box from its definition: inverse in GF(2^8) mod x^8+x^4+x^3+x+1, then the affine map.</summary>
    private static byte ReferenceSBox(byte x)
    {
        byte inverse = 0;
        for (var y = 1; y < 256 && x != 0; y++)
        {
            if (GfMultiply(x, (byte)y) == 1)
            {
                inverse = (byte)y;
                break;
            }
        }

        int b = inverse;
        var s = b ^ RotateLeft(b, 1) ^ RotateLeft(b, 2) ^ RotateLeft(b, 3) ^ RotateLeft(b, 4) ^ 0x63;
        return (byte)s;
    }

    private static int RotateLeft(int b, int n) => ((b << n) | (b >> (8 - n))) & 0xFF;

    private static byte GfMultiply(byte a, byte b)
    {
        var product = 0;
        int x = a;
        for (var i = 0; i < 8; i++)
        {
            if ((b & (1 << i)) != 0)
            {
                product ^= x;
            }

            x <<= 1;
            if ((x & 0x100) != 0)
            {
                x ^= 0x11B;
            }
        }

        return (byte)product;
    }
}
