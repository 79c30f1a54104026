using System.Buffers.Binary;

namespace BlockSim.Kmip.Ttlv;

/// <summary>
/// Writes TTLV (KMIP 1.2 section 9.1): a 3-byte tag, a 1-byte type, a 4-byte big-endian length of the value
/// without padding, then the value padded with zeros to a multiple of 8 bytes.
/// </summary>
public static class TtlvEncoder
{
    public static byte[] Encode(TtlvItem item)
    {
        var bytes = new byte[EncodedLength(item)];
        var written = Write(item, bytes);
        return written == bytes.Length ? bytes : throw new InvalidOperationException("TTLV length mismatch");
    }

    /// <summary>The item's length on the wire, header and padding included.</summary>
    public static int EncodedLength(TtlvItem item) => 8 + Padded(ValueLength(item));

    private static int ValueLength(TtlvItem item) => item.Type switch
    {
        TtlvType.Structure => item.Items.Sum(EncodedLength),
        TtlvType.Integer or TtlvType.Enumeration or TtlvType.Interval => 4,
        TtlvType.LongInteger or TtlvType.Boolean or TtlvType.DateTime => 8,
        _ => item.Bytes.Length,
    };

    private static int Padded(int length) => (length + 7) / 8 * 8;

    private static int Write(TtlvItem item, Span<byte> to)
    {
        var length = ValueLength(item);
        to[0] = (byte)(item.Tag >> 16);
        to[1] = (byte)(item.Tag >> 8);
        to[2] = (byte)item.Tag;
        to[3] = (byte)item.Type;
        BinaryPrimitives.WriteInt32BigEndian(to[4..], length);
        var value = to[8..];
        switch (item.Type)
        {
            case TtlvType.Structure:
                var at = 0;
                foreach (var child in item.Items)
                {
                    at += Write(child, value[at..]);
                }

                break;
            case TtlvType.Integer or TtlvType.Enumeration or TtlvType.Interval:
                BinaryPrimitives.WriteUInt32BigEndian(value, unchecked((uint)item.Number));
                break;
            case TtlvType.LongInteger or TtlvType.Boolean or TtlvType.DateTime:
                BinaryPrimitives.WriteInt64BigEndian(value, item.Number);
                break;
            default:
                item.Bytes.CopyTo(value);
                break;
        }

        value[length..Padded(length)].Clear();
        return 8 + Padded(length);
    }
}
