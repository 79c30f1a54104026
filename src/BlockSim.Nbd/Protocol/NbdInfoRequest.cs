using System.Buffers.Binary;
using System.Text;

namespace BlockSim.Nbd.Protocol;

/// <summary>The payload of NBD_OPT_INFO and NBD_OPT_GO: an export name and the info types the client asks for.</summary>
public sealed record NbdInfoRequest(string Name, IReadOnlySet<NbdInfoType> Requested)
{
    /// <summary>
    /// Parses a whole option payload (name length u32, name, count u16, count × info type u16); false when it
    /// is malformed: too short, a name past <see cref="NbdLimits.MaxString"/>, or bytes left over.
    /// Unknown info types are kept: the caller ignores what it does not serve.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out NbdInfoRequest request)
    {
        request = null!;
        if (payload.Length < 6)
        {
            return false;
        }

        var nameLength = BinaryPrimitives.ReadUInt32BigEndian(payload);
        if (nameLength > NbdLimits.MaxString || 4 + nameLength + 2 > payload.Length)
        {
            return false;
        }

        var name = Encoding.UTF8.GetString(payload.Slice(4, (int)nameLength));
        var at = 4 + (int)nameLength;
        var count = BinaryPrimitives.ReadUInt16BigEndian(payload[at..]);
        at += 2;
        if (payload.Length != at + (2 * count))
        {
            return false;
        }

        var requested = new HashSet<NbdInfoType>();
        for (var i = 0; i < count; i++)
        {
            requested.Add((NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(payload[(at + (2 * i))..]));
        }

        request = new NbdInfoRequest(name, requested);
        return true;
    }
}
