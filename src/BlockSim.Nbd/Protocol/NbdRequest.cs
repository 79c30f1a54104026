using System.Buffers;
using System.Buffers.Binary;

namespace BlockSim.Nbd.Protocol;

/// <summary>A transmission-phase request header (28 bytes; a WRITE's payload follows it).</summary>
public readonly record struct NbdRequest(NbdCommandFlags Flags, NbdCommand Command, ulong Cookie, ulong Offset, uint Length)
{
    public const int Size = 28;

    /// <summary>
    /// Parses one header. On <see cref="OperationStatus.Done"/> the reader is past it; on
    /// <see cref="OperationStatus.NeedMoreData"/> nothing is consumed; <see cref="OperationStatus.InvalidData"/>
    /// means a wrong magic, after which the stream cannot be trusted and the connection must close.
    /// </summary>
    public static OperationStatus TryRead(ref SequenceReader<byte> reader, out NbdRequest request)
    {
        request = default;
        if (reader.Remaining < Size)
        {
            return OperationStatus.NeedMoreData;
        }

        // Contiguous (the common case): parse straight from the segment; else copy the 28 bytes out.
        var valid = reader.UnreadSpan.Length >= Size
            ? Parse(reader.UnreadSpan, out request)
            : ParseCopy(ref reader, out request);
        if (!valid)
        {
            return OperationStatus.InvalidData;
        }

        reader.Advance(Size);
        return OperationStatus.Done;
    }

    /// <summary>Parses one header from the start of a contiguous buffer (the same outcomes as above; Done consumes <see cref="Size"/> bytes).</summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> buffer, out NbdRequest request)
    {
        if (buffer.Length < Size)
        {
            request = default;
            return OperationStatus.NeedMoreData;
        }

        return Parse(buffer, out request) ? OperationStatus.Done : OperationStatus.InvalidData;
    }

    private static bool ParseCopy(ref SequenceReader<byte> reader, out NbdRequest request)
    {
        Span<byte> copy = stackalloc byte[Size];
        reader.TryCopyTo(copy);
        return Parse(copy, out request);
    }

    private static bool Parse(ReadOnlySpan<byte> header, out NbdRequest request)
    {
        if (BinaryPrimitives.ReadUInt32BigEndian(header) != NbdMagic.Request)
        {
            request = default;
            return false;
        }

        request = new NbdRequest(
            (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(header[4..]),
            (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(header[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(header[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(header[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(header[24..]));
        return true;
    }

    /// <summary>Writes the header (the client side, and tests).</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.Request);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)Command);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Cookie);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], Offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], Length);
    }
}
