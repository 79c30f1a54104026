using System.Buffers;
using System.Buffers.Binary;

namespace BlockSim.Nbd.Protocol;

/// <summary>The start of the fixed-newstyle handshake: the server's greeting and the client's flags in answer.</summary>
public static class NbdGreeting
{
    /// <summary>NBDMAGIC, IHAVEOPT, then the 16-bit handshake flags.</summary>
    public const int Size = 18;

    /// <summary>The client's answer: 32 bits of flags.</summary>
    public const int ClientFlagsSize = 4;

    /// <summary>Handshake flags this server offers: fixed newstyle, and leaving out the 124 zero bytes.</summary>
    public const NbdHandshakeFlags ServerFlags = NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes;

    /// <summary>The only client flags a client may send back (see <see cref="AreServable"/>).</summary>
    public const NbdClientFlags KnownClientFlags = NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes;

    /// <summary>Writes the greeting (<see cref="Size"/> bytes).</summary>
    public static void Write(Span<byte> destination, NbdHandshakeFlags flags = ServerFlags)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, NbdMagic.Init);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt16BigEndian(destination[16..], (ushort)flags);
    }

    /// <summary>Parses the client's flags; on <see cref="OperationStatus.NeedMoreData"/> nothing is consumed.</summary>
    public static OperationStatus TryReadClientFlags(ref SequenceReader<byte> reader, out NbdClientFlags flags)
    {
        if (!reader.TryReadBigEndian(out int value))
        {
            flags = NbdClientFlags.None;
            return OperationStatus.NeedMoreData;
        }

        flags = (NbdClientFlags)(uint)value;
        return OperationStatus.Done;
    }

    /// <summary>Fixed newstyle is required; NO_ZEROES is optional; any other bit is one this server never offered.</summary>
    public static bool AreServable(NbdClientFlags flags) =>
        (flags & ~KnownClientFlags) == 0 && (flags & NbdClientFlags.FixedNewstyle) != 0;
}
