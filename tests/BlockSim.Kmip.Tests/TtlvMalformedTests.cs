using BlockSim.Kmip.Ttlv;

namespace BlockSim.Kmip.Tests;

/// <summary>A server's answer is untrusted: every truncation and every broken field is a TtlvFormatException, never another exception or a wrong value.</summary>
public class TtlvMalformedTests
{
    private static byte[] Hex(string hex) => TtlvSpecExampleTests.Hex(hex);

    /// <summary>A whole request as this client sends it: Create of an AES-256 key (nested structures, text, enumerations, integers).</summary>
    private static byte[] CreateRequest() => TtlvEncoder.Encode(KmipMessages.Request(KmipOperation.Create, TtlvItem.Structure(
        Tag.RequestPayload,
        TtlvItem.Enumeration(Tag.ObjectType, 2),
        TtlvItem.Structure(
            Tag.TemplateAttribute,
            TtlvItem.Structure(Tag.Attribute, TtlvItem.Text(Tag.AttributeName, "Cryptographic Algorithm"), TtlvItem.Enumeration(Tag.AttributeValue, 3)),
            TtlvItem.Structure(Tag.Attribute, TtlvItem.Text(Tag.AttributeName, "Cryptographic Length"), TtlvItem.Integer(Tag.AttributeValue, 256))))));

    public static TheoryData<string> Messages => new()
    {
        Convert.ToHexString(CreateRequest()),
        "42002001000000204200040500000004000000FE000000004200050200000004000000FF00000000", // the specification's structure example
        "420020070000000B48656C6C6F20576F726C640000000000", // and its text string
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Every_truncation_is_refused(string hex)
    {
        var whole = Convert.FromHexString(hex);
        Assert.NotNull(TtlvDecoder.Decode(whole)); // the whole message is well formed
        for (var length = 0; length < whole.Length; length++)
        {
            var cut = whole[..length];
            Assert.Throws<TtlvFormatException>(() => TtlvDecoder.Decode(cut));
        }
    }

    [Theory]
    [InlineData("42 00 20 02 00 00 00 08 00 00 00 00 00 00 00 08", "Integer of 8 bytes")]
    [InlineData("42 00 20 05 00 00 00 08 00 00 00 00 00 00 00 08", "Enumeration of 8 bytes")]
    [InlineData("42 00 20 03 00 00 00 04 00 00 00 01 00 00 00 00", "Long Integer of 4 bytes")]
    [InlineData("42 00 20 06 00 00 00 08 00 00 00 00 00 00 00 02", "Boolean 2")]
    [InlineData("42 00 20 04 00 00 00 04 00 00 00 01 00 00 00 00", "Big Integer not a multiple of 8")]
    [InlineData("42 00 20 02 00 00 00 04 00 00 00 08 00 00 00 01", "padding not zero")]
    [InlineData("42 00 20 0B 00 00 00 04 00 00 00 08 00 00 00 00", "unknown type 0x0B")]
    [InlineData("42 00 20 00 00 00 00 04 00 00 00 08 00 00 00 00", "unknown type 0x00")]
    [InlineData("42 00 20 07 00 00 00 02 C3 28 00 00 00 00 00 00", "text that is not UTF-8")]
    [InlineData("42 00 20 02 00 00 00 04 00 00 00 08 00 00 00 00 00", "a byte after the item")]
    [InlineData("42 00 20 01 00 00 00 08 42 00 04 02 00 00 00 04 00 00 00 08 00 00 00 00", "a structure shorter than its item")]
    [InlineData("42 00 20 01 00 00 00 04 00 00 00 00 00 00 00 00", "a structure of 4 bytes")]
    [InlineData("42 00 20 08 FF FF FF FF 00 00 00 00 00 00 00 00", "a length past the end")]
    public void Broken_fields_are_refused(string hex, string why)
    {
        var e = Assert.Throws<TtlvFormatException>(() => TtlvDecoder.Decode(Hex(hex)));
        Assert.False(string.IsNullOrWhiteSpace(e.Message), why);
    }

    [Fact]
    public void Nesting_stops_at_the_limit()
    {
        var item = TtlvItem.Integer(0x420020, 1);
        for (var depth = 0; depth <= TtlvDecoder.MaxDepth; depth++)
        {
            item = TtlvItem.Structure(0x420020, item);
        }

        var e = Assert.Throws<TtlvFormatException>(() => TtlvDecoder.Decode(TtlvEncoder.Encode(item)));
        Assert.Contains("deeper", e.Message, StringComparison.Ordinal);
        Assert.NotNull(TtlvDecoder.Decode(TtlvEncoder.Encode(item.Items[0]))); // one level less reads
    }

    [Fact]
    public void Item_length_reads_the_header_and_refuses_impossible_lengths()
    {
        Assert.Equal(24, TtlvDecoder.ItemLength(Hex("42 00 20 07 00 00 00 0B")));
        Assert.Equal(8, TtlvDecoder.ItemLength(Hex("42 00 20 01 00 00 00 00")));
        Assert.Throws<TtlvFormatException>(() => TtlvDecoder.ItemLength(Hex("42 00 20 01 FF FF FF FF")));
        Assert.Throws<TtlvFormatException>(() => TtlvDecoder.ItemLength(Hex("42 00 20 01")));
    }
}
