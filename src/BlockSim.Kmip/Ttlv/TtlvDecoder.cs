using System.Buffers.Binary;

namespace BlockSim.Kmip.Ttlv;

/// <summary>
/// Reads TTLV strictly: every length must fit its type (4 for Integer, Enumeration and Interval; 8 for Long
/// Integer, Boolean and Date-Time; a multiple of 8 for Big Integer), a Boolean is 0 or 1, padding is zero,
/// a structure's items fill it exactly, nesting stops at <see cref="MaxDepth"/>. Anything else, a
/// truncation included, is a <see cref="TtlvFormatException"/> saying where: a server's answer is
/// untrusted input.
/// </summary>
public static class TtlvDecoder
{
    public const int MaxDepth = 16;

    /// <summary>Decodes exactly one item that fills <paramref name="bytes"/>.</summary>
    public static TtlvItem Decode(ReadOnlySpan<byte> bytes)
    {
        var item = Read(bytes, 0, 0, out var used);
        return used == bytes.Length ? item : throw new TtlvFormatException($"{bytes.Length - used} bytes follow the item that ends at offset {used}.");
    }

    /// <summary>The whole length of the item whose 8-byte header is <paramref name="header"/> (for reading it off a stream).</summary>
    public static int ItemLength(ReadOnlySpan<byte> header)
    {
        if (header.Length < 8)
        {
            throw new TtlvFormatException($"A TTLV header is 8 bytes; {header.Length} given.");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        return length > int.MaxValue - 16 ? throw new TtlvFormatException($"A length of {length} bytes is impossible.") : 8 + (((int)length + 7) / 8 * 8);
    }

    private static TtlvItem Read(ReadOnlySpan<byte> bytes, int offset, int depth, out int used)
    {
        if (bytes.Length < 8)
        {
            throw new TtlvFormatException($"Truncated at offset {offset}: an item needs an 8-byte header, {bytes.Length} bytes are left.");
        }

        var tag = (bytes[0] << 16) | (bytes[1] << 8) | bytes[2];
        var type = (TtlvType)bytes[3];
        var declared = BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]);
        if (declared > (uint)(bytes.Length - 8))
        {
            throw new TtlvFormatException($"Truncated at offset {offset}: {Tag.Describe(tag)} says {declared} bytes, {bytes.Length - 8} are left.");
        }

        var length = (int)declared;
        var padded = (length + 7) / 8 * 8;
        if (padded > bytes.Length - 8)
        {
            throw new TtlvFormatException($"Truncated at offset {offset}: the padding of {Tag.Describe(tag)} ({padded - length} bytes) is missing.");
        }

        var value = bytes.Slice(8, length);
        if (bytes.Slice(8 + length, padded - length).ContainsAnyExcept((byte)0))
        {
            throw new TtlvFormatException($"The padding of {Tag.Describe(tag)} at offset {offset} is not zero.");
        }

        used = 8 + padded;
        return type switch
        {
            TtlvType.Structure => ReadStructure(tag, value, offset + 8, depth),
            TtlvType.Integer or TtlvType.Enumeration or TtlvType.Interval => Number32(tag, type, Fixed(tag, type, value, 4, offset)),
            TtlvType.LongInteger or TtlvType.DateTime => TtlvItem.Decoded(tag, type, BinaryPrimitives.ReadInt64BigEndian(Fixed(tag, type, value, 8, offset)), null, null),
            TtlvType.Boolean => TtlvItem.Decoded(tag, type, Boolean(tag, Fixed(tag, type, value, 8, offset), offset), null, null),
            TtlvType.BigInteger => length > 0 && length % 8 == 0
                ? TtlvItem.Decoded(tag, type, 0, value.ToArray(), null)
                : throw new TtlvFormatException($"The Big Integer {Tag.Describe(tag)} at offset {offset} is {length} bytes, not a multiple of 8."),
            TtlvType.TextString => TtlvItem.Decoded(tag, type, 0, Utf8(tag, value, offset), null),
            TtlvType.ByteString => TtlvItem.Decoded(tag, type, 0, value.ToArray(), null),
            _ => throw new TtlvFormatException($"{Tag.Describe(tag)} at offset {offset} has the unknown type 0x{(byte)type:X2}."),
        };
    }

    private static TtlvItem ReadStructure(int tag, ReadOnlySpan<byte> value, int offset, int depth)
    {
        if (depth >= MaxDepth)
        {
            throw new TtlvFormatException($"Structures nest deeper than {MaxDepth} at offset {offset}.");
        }

        var items = new List<TtlvItem>();
        var at = 0;
        while (at < value.Length)
        {
            items.Add(Read(value[at..], offset + at, depth + 1, out var used));
            at += used;
        }

        return TtlvItem.Decoded(tag, TtlvType.Structure, 0, null, items);
    }

    private static ReadOnlySpan<byte> Fixed(int tag, TtlvType type, ReadOnlySpan<byte> value, int length, int offset) =>
        value.Length == length ? value : throw new TtlvFormatException($"The {type} {Tag.Describe(tag)} at offset {offset} is {value.Length} bytes; it must be {length}.");

    /// <summary>An Integer is signed; an Enumeration and an Interval are unsigned.</summary>
    private static TtlvItem Number32(int tag, TtlvType type, ReadOnlySpan<byte> value) =>
        TtlvItem.Decoded(tag, type, type == TtlvType.Integer ? BinaryPrimitives.ReadInt32BigEndian(value) : BinaryPrimitives.ReadUInt32BigEndian(value), null, null);

    private static long Boolean(int tag, ReadOnlySpan<byte> value, int offset)
    {
        var number = BinaryPrimitives.ReadInt64BigEndian(value);
        return number is 0 or 1 ? number : throw new TtlvFormatException($"The Boolean {Tag.Describe(tag)} at offset {offset} is {number}, neither 0 nor 1.");
    }

    private static byte[] Utf8(int tag, ReadOnlySpan<byte> value, int offset) =>
        System.Text.Unicode.Utf8.IsValid(value) ? value.ToArray() : throw new TtlvFormatException($"The Text String {Tag.Describe(tag)} at offset {offset} is not UTF-8.");
}
