using System.Buffers;
using System.Buffers.Binary;

namespace BlockSim.Nbd.Protocol;

/// <summary>The header of one client option during haggling (16 bytes; <see cref="Length"/> bytes of payload follow).</summary>
public readonly record struct NbdOptionHeader(NbdOption Option, uint Length)
{
    public const int Size = 16;

    /// <summary>
    /// Parses one header. On <see cref="OperationStatus.Done"/> the reader is past it; on
    /// <see cref="OperationStatus.NeedMoreData"/> nothing is consumed; <see cref="OperationStatus.InvalidData"/>
    /// means the IHAVEOPT magic is missing (nothing consumed), after which the connection must close.
    /// </summary>
    public static OperationStatus TryRead(ref SequenceReader<byte> reader, out NbdOptionHeader header)
    {
        header = default;
        if (reader.Remaining < Size)
        {
            return OperationStatus.NeedMoreData;
        }

        Span<byte> bytes = stackalloc byte[Size];
        reader.TryCopyTo(bytes);
        if (BinaryPrimitives.ReadUInt64BigEndian(bytes) != NbdMagic.IHaveOpt)
        {
            return OperationStatus.InvalidData;
        }

        header = new NbdOptionHeader(
            (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]));
        reader.Advance(Size);
        return OperationStatus.Done;
    }

    /// <summary>Writes the header (the client side, and tests).</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], (uint)Option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], Length);
    }
}
