using System.Buffers.Binary;

namespace BlockSim.Nbd.Protocol;

/// <summary>
/// Writers for the server's answers during option haggling: small and pure. Each writes one whole reply
/// (the 20-byte header and its data) and returns its length; <c>SizeOf...</c> says how much room it needs.
/// </summary>
public static class NbdOptionReplies
{
    /// <summary>Magic, option, reply type, data length.</summary>
    public const int HeaderSize = 20;

    /// <summary>NBD_OPT_EXPORT_NAME's answer: size and transmission flags, then 124 zero bytes unless the client asked for none.</summary>
    public static int SizeOfExportName(bool noZeroes) => 10 + (noZeroes ? 0 : 124);

    public static int SizeOf(int dataLength) => HeaderSize + dataLength;

    /// <summary>Any reply with its data as given (ACK, errors with their message).</summary>
    public static int Write(Span<byte> destination, NbdOption option, NbdOptionReplyType type, ReadOnlySpan<byte> data = default)
    {
        WriteHeader(destination, option, type, data.Length);
        data.CopyTo(destination[HeaderSize..]);
        return HeaderSize + data.Length;
    }

    /// <summary>LIST: one SERVER reply per export (name length, name, description).</summary>
    public static int SizeOfServer(int nameLength, int descriptionLength) => HeaderSize + 4 + nameLength + descriptionLength;

    public static int WriteServer(Span<byte> destination, ReadOnlySpan<byte> name, ReadOnlySpan<byte> description)
    {
        var data = WriteHeader(destination, NbdOption.List, NbdOptionReplyType.Server, 4 + name.Length + description.Length);
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)name.Length);
        name.CopyTo(data[4..]);
        description.CopyTo(data[(4 + name.Length)..]);
        return HeaderSize + 4 + name.Length + description.Length;
    }

    public const int InfoExportSize = HeaderSize + 12;

    /// <summary>INFO_EXPORT: size and transmission flags.</summary>
    public static int WriteInfoExport(Span<byte> destination, NbdOption option, ulong size, NbdTransmissionFlags flags)
    {
        var data = WriteHeader(destination, option, NbdOptionReplyType.Info, 12);
        BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)NbdInfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(data[2..], size);
        BinaryPrimitives.WriteUInt16BigEndian(data[10..], (ushort)flags);
        return InfoExportSize;
    }

    public static int SizeOfInfoText(int textLength) => HeaderSize + 2 + textLength;

    /// <summary>INFO_NAME or INFO_DESCRIPTION: the info type, then the UTF-8 text.</summary>
    public static int WriteInfoText(Span<byte> destination, NbdOption option, NbdInfoType type, ReadOnlySpan<byte> text)
    {
        var data = WriteHeader(destination, option, NbdOptionReplyType.Info, 2 + text.Length);
        BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)type);
        text.CopyTo(data[2..]);
        return HeaderSize + 2 + text.Length;
    }

    public const int InfoBlockSizeSize = HeaderSize + 14;

    /// <summary>INFO_BLOCK_SIZE: minimum, preferred and maximum block sizes.</summary>
    public static int WriteInfoBlockSize(Span<byte> destination, NbdOption option, uint minimum, uint preferred, uint maximum)
    {
        var data = WriteHeader(destination, option, NbdOptionReplyType.Info, 14);
        BinaryPrimitives.WriteUInt16BigEndian(data, (ushort)NbdInfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(data[2..], minimum);
        BinaryPrimitives.WriteUInt32BigEndian(data[6..], preferred);
        BinaryPrimitives.WriteUInt32BigEndian(data[10..], maximum);
        return InfoBlockSizeSize;
    }

    public static int SizeOfMetaContext(int nameLength) => HeaderSize + 4 + nameLength;

    /// <summary>META_CONTEXT: the id the server gives the context in block status replies, then its name.</summary>
    public static int WriteMetaContext(Span<byte> destination, NbdOption option, uint contextId, ReadOnlySpan<byte> name)
    {
        var data = WriteHeader(destination, option, NbdOptionReplyType.MetaContext, 4 + name.Length);
        BinaryPrimitives.WriteUInt32BigEndian(data, contextId);
        name.CopyTo(data[4..]);
        return HeaderSize + 4 + name.Length;
    }

    /// <summary>NBD_OPT_EXPORT_NAME's answer, which has no reply header (see <see cref="SizeOfExportName"/>).</summary>
    public static int WriteExportName(Span<byte> destination, ulong size, NbdTransmissionFlags flags, bool noZeroes)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, size);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], (ushort)flags);
        var length = SizeOfExportName(noZeroes);
        destination[10..length].Clear();
        return length;
    }

    /// <summary>Writes the header and returns the room for the data behind it.</summary>
    private static Span<byte> WriteHeader(Span<byte> destination, NbdOption option, NbdOptionReplyType type, int dataLength)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], (uint)dataLength);
        return destination[HeaderSize..];
    }
}
