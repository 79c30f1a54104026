using System.Buffers.Binary;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Benchmarks.Nbd;

/// <summary>The client's side of a minimal handshake, as raw bytes: flags, then GO on one export.</summary>
internal static class BenchmarkHandshake
{
    /// <summary>What the server sends after the GO below: INFO_EXPORT (20 + 12 bytes), then ACK (20).</summary>
    public const int GoReplyLength = 20 + 12 + 20;

    /// <summary>Client flags (fixed newstyle, no zeroes) and NBD_OPT_GO for <paramref name="export"/>, without info requests.</summary>
    public static byte[] GoMessage(string export)
    {
        var name = System.Text.Encoding.UTF8.GetBytes(export);
        var message = new byte[4 + 16 + 4 + name.Length + 2];
        BinaryPrimitives.WriteUInt32BigEndian(message, (uint)(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes));
        BinaryPrimitives.WriteUInt64BigEndian(message.AsSpan(4), NbdMagic.IHaveOpt);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(12), (uint)NbdOption.Go);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(16), (uint)(4 + name.Length + 2));
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(20), (uint)name.Length);
        name.CopyTo(message.AsSpan(24));
        return message;
    }
}
