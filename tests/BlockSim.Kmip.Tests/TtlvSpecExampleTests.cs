using System.Numerics;
using BlockSim.Kmip.Ttlv;

namespace BlockSim.Kmip.Tests;

/// <summary>
/// The encodings printed in the KMIP 1.2 specification, section 9.1.2 "Examples" (tag 0x420020 throughout),
/// byte for byte, both ways: what the encoder writes, and what the decoder reads back.
/// </summary>
public class TtlvSpecExampleTests
{
    private const int ExampleTag = 0x420020;

    public static TheoryData<string, string> Examples => new()
    {
        { "Integer 8", "42 00 20 02 00 00 00 04 00 00 00 08 00 00 00 00" },
        { "Long Integer 123456789000000000", "42 00 20 03 00 00 00 08 01 B6 9B 4B A5 74 92 00" },
        { "Big Integer 1234567890000000000000000000", "42 00 20 04 00 00 00 10 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00" },
        { "Enumeration 255", "42 00 20 05 00 00 00 04 00 00 00 FF 00 00 00 00" },
        { "Boolean True", "42 00 20 06 00 00 00 08 00 00 00 00 00 00 00 01" },
        { "Text String Hello World", "42 00 20 07 00 00 00 0B 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00" },
        { "Byte String 01 02 03", "42 00 20 08 00 00 00 03 01 02 03 00 00 00 00 00" },
        { "Date-Time 2008-03-14 11:56:40 UTC", "42 00 20 09 00 00 00 08 00 00 00 00 47 DA 67 F8" },
        { "Interval 10 days", "42 00 20 0A 00 00 00 04 00 0D 2F 00 00 00 00 00" },
        { "Structure of Enumeration 254 and Integer 255", "42 00 20 01 00 00 00 20 42 00 04 05 00 00 00 04 00 00 00 FE 00 00 00 00 42 00 05 02 00 00 00 04 00 00 00 FF 00 00 00 00" },
    };

    private static TtlvItem Build(string name) => name switch
    {
        "Integer 8" => TtlvItem.Integer(ExampleTag, 8),
        "Long Integer 123456789000000000" => TtlvItem.LongInteger(ExampleTag, 123456789000000000),
        "Big Integer 1234567890000000000000000000" => TtlvItem.BigInteger(ExampleTag, BigInteger.Parse("1234567890000000000000000000", System.Globalization.CultureInfo.InvariantCulture)),
        "Enumeration 255" => TtlvItem.Enumeration(ExampleTag, 255),
        "Boolean True" => TtlvItem.Boolean(ExampleTag, true),
        "Text String Hello World" => TtlvItem.Text(ExampleTag, "Hello World"),
        "Byte String 01 02 03" => TtlvItem.ByteString(ExampleTag, [1, 2, 3]),
        "Date-Time 2008-03-14 11:56:40 UTC" => TtlvItem.DateTime(ExampleTag, new DateTimeOffset(2008, 3, 14, 11, 56, 40, TimeSpan.Zero)),
        "Interval 10 days" => TtlvItem.Interval(ExampleTag, 10 * 24 * 3600),
        "Structure of Enumeration 254 and Integer 255" => TtlvItem.Structure(ExampleTag, TtlvItem.Enumeration(0x420004, 254), TtlvItem.Integer(0x420005, 255)),
        _ => throw new ArgumentException(name),
    };

    internal static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Examples))]
    public void Encodes_as_the_specification_prints(string name, string hex) =>
        Assert.Equal(Convert.ToHexString(Hex(hex)), Convert.ToHexString(TtlvEncoder.Encode(Build(name))));

    [Theory]
    [MemberData(nameof(Examples))]
    public void Decodes_to_the_same_value_and_encodes_back(string name, string hex)
    {
        var decoded = TtlvDecoder.Decode(Hex(hex));
        var expected = Build(name);
        Assert.Equal(expected.Tag, decoded.Tag);
        Assert.Equal(expected.Type, decoded.Type);
        Assert.Equal(expected.Number, decoded.Number);
        Assert.Equal(expected.Bytes, decoded.Bytes);
        Assert.Equal(expected.Items.Count, decoded.Items.Count);
        Assert.Equal(Convert.ToHexString(Hex(hex)), Convert.ToHexString(TtlvEncoder.Encode(decoded)));
    }

    [Fact]
    public void Big_integer_and_text_values_read_back()
    {
        var big = TtlvDecoder.Decode(Hex("42 00 20 04 00 00 00 10 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00"));
        Assert.Equal(BigInteger.Parse("1234567890000000000000000000", System.Globalization.CultureInfo.InvariantCulture), big.BigIntegerValue());
        Assert.Equal("Hello World", TtlvDecoder.Decode(Hex("42 00 20 07 00 00 00 0B 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00")).Text());
        Assert.Equal(BigInteger.MinusOne, TtlvDecoder.Decode(TtlvEncoder.Encode(TtlvItem.BigInteger(ExampleTag, BigInteger.MinusOne))).BigIntegerValue());
    }
}
