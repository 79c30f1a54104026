using System.Numerics;
using System.Text;

namespace BlockSim.Kmip.Ttlv;

/// <summary>
/// One TTLV item: a tag, a type and a value. A Structure holds items in order; Integer, Enumeration and
/// Interval hold 32 bits, Long Integer, Boolean and Date-Time 64 (in <see cref="Number"/>); Text String,
/// Byte String and Big Integer hold bytes (in <see cref="Bytes"/>).
/// </summary>
public sealed class TtlvItem
{
    private TtlvItem(int tag, TtlvType type, long number, byte[]? bytes, IReadOnlyList<TtlvItem>? items)
    {
        if ((uint)tag > 0xFFFFFF)
        {
            throw new ArgumentOutOfRangeException(nameof(tag), "A TTLV tag is three bytes.");
        }

        Tag = tag;
        Type = type;
        Number = number;
        Bytes = bytes ?? [];
        Items = items ?? [];
    }

    public int Tag { get; }

    public TtlvType Type { get; }

    /// <summary>The value of an Integer, Enumeration, Interval, Long Integer, Boolean (0 or 1) or Date-Time (seconds since 1970).</summary>
    public long Number { get; }

    /// <summary>The value of a Text String (UTF-8), Byte String, or Big Integer (big-endian two's complement, a multiple of 8 bytes).</summary>
    public byte[] Bytes { get; }

    /// <summary>A Structure's items, in order.</summary>
    public IReadOnlyList<TtlvItem> Items { get; }

    public static TtlvItem Structure(int tag, params IEnumerable<TtlvItem?> items) => new(tag, TtlvType.Structure, 0, null, [.. items.OfType<TtlvItem>()]);

    public static TtlvItem Integer(int tag, int value) => new(tag, TtlvType.Integer, value, null, null);

    public static TtlvItem LongInteger(int tag, long value) => new(tag, TtlvType.LongInteger, value, null, null);

    public static TtlvItem Enumeration(int tag, uint value) => new(tag, TtlvType.Enumeration, value, null, null);

    public static TtlvItem Boolean(int tag, bool value) => new(tag, TtlvType.Boolean, value ? 1 : 0, null, null);

    public static TtlvItem Text(int tag, string value) => new(tag, TtlvType.TextString, 0, Encoding.UTF8.GetBytes(value), null);

    public static TtlvItem ByteString(int tag, ReadOnlySpan<byte> value) => new(tag, TtlvType.ByteString, 0, value.ToArray(), null);

    public static TtlvItem DateTime(int tag, DateTimeOffset value) => new(tag, TtlvType.DateTime, value.ToUnixTimeSeconds(), null, null);

    /// <summary>An Interval in seconds (unsigned 32 bits).</summary>
    public static TtlvItem Interval(int tag, uint seconds) => new(tag, TtlvType.Interval, seconds, null, null);

    /// <summary>A Big Integer, sign-extended on the left to a multiple of 8 bytes as the encoding requires.</summary>
    public static TtlvItem BigInteger(int tag, BigInteger value)
    {
        var minimal = value.ToByteArray(isUnsigned: false, isBigEndian: true);
        var padded = new byte[Math.Max(8, (minimal.Length + 7) / 8 * 8)];
        if (value.Sign < 0)
        {
            padded.AsSpan().Fill(0xFF);
        }

        minimal.CopyTo(padded, padded.Length - minimal.Length);
        return new(tag, TtlvType.BigInteger, 0, padded, null);
    }

    /// <summary>An item as decoded: the decoder has checked that the value fits the type.</summary>
    internal static TtlvItem Decoded(int tag, TtlvType type, long number, byte[]? bytes, IReadOnlyList<TtlvItem>? items) => new(tag, type, number, bytes, items);

    /// <summary>A Text String's value.</summary>
    public string Text() => Type == TtlvType.TextString
        ? Encoding.UTF8.GetString(Bytes)
        : throw new KmipProtocolException($"{Ttlv.Tag.Describe(Tag)} is a {Type}, not a Text String.");

    /// <summary>A Big Integer's value.</summary>
    public BigInteger BigIntegerValue() => new(Bytes, isUnsigned: false, isBigEndian: true);

    /// <summary>Zeroes the value of every byte string and text string in this item and the items it holds (once a request carrying a secret is sent).</summary>
    public void ZeroByteStrings()
    {
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(Bytes);
        foreach (var item in Items)
        {
            item.ZeroByteStrings();
        }
    }

    /// <summary>The first item with <paramref name="tag"/> in this structure, or null.</summary>
    public TtlvItem? Find(int tag) => Items.FirstOrDefault(i => i.Tag == tag);

    /// <summary>The first item with <paramref name="tag"/>; a missing one is a protocol error naming it.</summary>
    public TtlvItem Get(int tag) => Find(tag) ?? throw new KmipProtocolException($"The server's answer has no {Ttlv.Tag.Describe(tag)} in {Ttlv.Tag.Describe(Tag)}.");

    /// <summary>The item with <paramref name="tag"/>, which must have type <paramref name="type"/>.</summary>
    public TtlvItem Get(int tag, TtlvType type)
    {
        var item = Get(tag);
        return item.Type == type ? item : throw new KmipProtocolException($"{Ttlv.Tag.Describe(tag)} in the server's answer is a {item.Type}, not a {type}.");
    }

    public override string ToString() => Type switch
    {
        TtlvType.Structure => $"{Ttlv.Tag.Describe(Tag)} Structure[{Items.Count}]",
        TtlvType.TextString => $"{Ttlv.Tag.Describe(Tag)} \"{Text()}\"",
        TtlvType.ByteString or TtlvType.BigInteger => $"{Ttlv.Tag.Describe(Tag)} {Type} {Bytes.Length} bytes",
        _ => $"{Ttlv.Tag.Describe(Tag)} {Type} {Number}",
    };
}
