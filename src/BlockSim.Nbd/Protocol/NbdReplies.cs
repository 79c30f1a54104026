using System.Buffers.Binary;

namespace BlockSim.Nbd.Protocol;

/// <summary>Writers for transmission-phase replies: small, pure, allocation-free.</summary>
public static class NbdReplies
{
    public const int SimpleHeaderSize = 16;
    public const int StructuredHeaderSize = 20;

    /// <summary>Simple reply: magic, error, cookie (a successful READ's data follows).</summary>
    public static void WriteSimple(Span<byte> destination, NbdError error, ulong cookie)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)error);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], cookie);
    }

    /// <summary>Structured reply chunk header: magic, flags, type, cookie, payload length.</summary>
    public static void WriteChunkHeader(Span<byte> destination, NbdReplyFlags flags, NbdReplyType type, ulong cookie, uint length)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.StructuredReply);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], cookie);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], length);
    }

    /// <summary>Size of an ERROR chunk (header included) carrying a message of the given UTF-8 length.</summary>
    public static int ErrorChunkSize(int messageLength) => StructuredHeaderSize + 6 + messageLength;

    /// <summary>ERROR chunk with the DONE flag: error value, message length, message.</summary>
    public static void WriteErrorChunk(Span<byte> destination, NbdError error, ulong cookie, ReadOnlySpan<byte> message)
    {
        WriteChunkHeader(destination, NbdReplyFlags.Done, NbdReplyType.Error, cookie, (uint)(6 + message.Length));
        BinaryPrimitives.WriteUInt32BigEndian(destination[StructuredHeaderSize..], (uint)error);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(StructuredHeaderSize + 4)..], (ushort)message.Length);
        message.CopyTo(destination[(StructuredHeaderSize + 6)..]);
    }
}
