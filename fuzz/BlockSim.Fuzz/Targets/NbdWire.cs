using System.Buffers.Binary;
using System.Text;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Fuzz.Targets;

/// <summary>What a client puts on the wire, for handshakes and seeds.</summary>
internal static class NbdWire
{
    public static byte[] Option(NbdOption option, byte[] data)
    {
        var bytes = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), (uint)data.Length);
        data.CopyTo(bytes.AsSpan(16));
        return bytes;
    }

    /// <summary>An INFO or GO payload: the export name and the information requested.</summary>
    public static byte[] NameAndInfos(string export, params ushort[] infos)
    {
        var name = Encoding.UTF8.GetBytes(export);
        var bytes = new byte[4 + name.Length + 2 + (2 * infos.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)name.Length);
        name.CopyTo(bytes.AsSpan(4));
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4 + name.Length), (ushort)infos.Length);
        for (var i = 0; i < infos.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6 + name.Length + (2 * i)), infos[i]);
        }

        return bytes;
    }

    /// <summary>A LIST_META_CONTEXT or SET_META_CONTEXT payload: the export name and the queries.</summary>
    public static byte[] MetaContexts(string export, params string[] queries)
    {
        var bytes = new List<byte>();
        var name = Encoding.UTF8.GetBytes(export);
        bytes.AddRange(BigEndian((uint)name.Length));
        bytes.AddRange(name);
        bytes.AddRange(BigEndian((uint)queries.Length));
        foreach (var query in queries)
        {
            var text = Encoding.UTF8.GetBytes(query);
            bytes.AddRange(BigEndian((uint)text.Length));
            bytes.AddRange(text);
        }

        return [.. bytes];
    }

    /// <summary>A request header (cookie 0: the transmission target numbers them).</summary>
    public static byte[] Request(NbdCommand command, NbdCommandFlags flags, ulong offset, uint length)
    {
        var bytes = new byte[NbdRequest.Size];
        new NbdRequest(flags, command, 0, offset, length).WriteTo(bytes);
        return bytes;
    }

    public static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }
}
