using System.Buffers.Binary;
using System.Text;

namespace BlockSim.Nbd.Protocol;

/// <summary>The payload of NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT: an export name and context queries.</summary>
public sealed record NbdMetaContextRequest(string Name, IReadOnlyList<string> Queries)
{
    /// <summary>
    /// Parses a whole option payload (name length u32, name, count u32, count × (length u32, query)); false
    /// when it is malformed: too short, a string past <see cref="NbdLimits.MaxString"/>, or bytes left over.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out NbdMetaContextRequest request)
    {
        request = null!;
        if (payload.Length < 8)
        {
            return false;
        }

        var nameLength = BinaryPrimitives.ReadUInt32BigEndian(payload);
        if (nameLength > NbdLimits.MaxString || 4 + nameLength + 4 > payload.Length)
        {
            return false;
        }

        var name = Encoding.UTF8.GetString(payload.Slice(4, (int)nameLength));
        var span = payload[(4 + (int)nameLength)..];
        var count = BinaryPrimitives.ReadUInt32BigEndian(span);
        span = span[4..];
        var queries = new List<string>();
        for (var i = 0; i < count; i++)
        {
            if (span.Length < 4)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(span);
            if (length > NbdLimits.MaxString || length > span.Length - 4)
            {
                return false;
            }

            queries.Add(Encoding.UTF8.GetString(span.Slice(4, (int)length)));
            span = span[(4 + (int)length)..];
        }

        if (!span.IsEmpty)
        {
            return false;
        }

        request = new NbdMetaContextRequest(name, queries);
        return true;
    }
}
