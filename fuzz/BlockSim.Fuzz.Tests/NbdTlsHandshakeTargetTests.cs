using System.Buffers.Binary;
using System.Text;
using BlockSim.Fuzz.Targets;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Fuzz.Tests;

/// <summary>The TLS handshake target really haggles inside TLS: what it sends there is answered there.</summary>
public class NbdTlsHandshakeTargetTests
{
    [Fact]
    public void Options_sent_inside_tls_are_answered_inside_tls()
    {
        var output = NbdTlsHandshakeTarget.Serve([.. NbdWire.Option(NbdOption.List, []), .. NbdWire.Option(NbdOption.Abort, [])]);

        Assert.Equal(NbdMagic.OptionReply, BinaryPrimitives.ReadUInt64BigEndian(output));
        Assert.Equal((uint)NbdOption.List, BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(8)));
        Assert.Contains("mem", Encoding.ASCII.GetString(output), StringComparison.Ordinal); // the export, listed only to a client past TLS
    }

    [Fact]
    public void A_second_starttls_is_refused_inside_tls()
    {
        var output = NbdTlsHandshakeTarget.Serve(NbdWire.Option(NbdOption.StartTls, []));

        Assert.Equal((uint)NbdOption.StartTls, BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(8)));
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(12)) >= 0x80000000, "an error reply");
    }
}
