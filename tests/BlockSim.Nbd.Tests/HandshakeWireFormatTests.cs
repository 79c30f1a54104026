using System.Buffers;
using System.Buffers.Binary;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Tests;

/// <summary>The handshake's wire format, byte for byte: greeting, client flags, option headers, option replies and payloads.</summary>
public class HandshakeWireFormatTests
{
    private static readonly NbdOptionHeader s_header = new(NbdOption.SetMetaContext, 0x01020304);

    [Fact]
    public void The_greeting_is_nbdmagic_ihaveopt_and_the_server_flags()
    {
        var bytes = new byte[NbdGreeting.Size];
        NbdGreeting.Write(bytes);
        Assert.Equal(Convert.FromHexString("4E42444D41474943" + "49484156454F5054" + "0003"), bytes);
    }

    [Fact]
    public void Client_flags_parse_and_are_consumed()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Convert.FromHexString("00000003" + "FF")));
        Assert.Equal(OperationStatus.Done, NbdGreeting.TryReadClientFlags(ref reader, out var flags));
        Assert.Equal(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes, flags);
        Assert.Equal(NbdGreeting.ClientFlagsSize, reader.Consumed);
    }

    [Fact]
    public void Every_prefix_of_the_client_flags_needs_more_data_and_consumes_nothing()
    {
        var bytes = Convert.FromHexString("00000001");
        for (var length = 0; length < bytes.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, length));
            Assert.Equal(OperationStatus.NeedMoreData, NbdGreeting.TryReadClientFlags(ref reader, out _));
            Assert.Equal(0, reader.Consumed);
        }
    }

    [Fact]
    public void Every_two_segment_split_of_the_client_flags_parses_the_same()
    {
        var bytes = Convert.FromHexString("80000001" + "AA");
        for (var split = 1; split < bytes.Length; split++)
        {
            var reader = new SequenceReader<byte>(Sequences.TwoSegments(bytes, split));
            Assert.Equal(OperationStatus.Done, NbdGreeting.TryReadClientFlags(ref reader, out var flags));
            Assert.Equal((NbdClientFlags)0x80000001, flags);
            Assert.Equal(NbdGreeting.ClientFlagsSize, reader.Consumed);
        }
    }

    [Theory]
    [InlineData(1u, true)]             // fixed newstyle
    [InlineData(3u, true)]             // and no zeroes
    [InlineData(0u, false)]            // oldstyle-ish: not served
    [InlineData(2u, false)]            // no zeroes without fixed newstyle
    [InlineData(1u | (1u << 5), false)] // a flag never offered
    public void Only_fixed_newstyle_with_optional_no_zeroes_is_servable(uint flags, bool servable) =>
        Assert.Equal(servable, NbdGreeting.AreServable((NbdClientFlags)flags));

    [Fact]
    public void An_option_header_is_16_big_endian_bytes()
    {
        var bytes = new byte[NbdOptionHeader.Size];
        s_header.WriteTo(bytes);
        Assert.Equal(Convert.FromHexString("49484156454F5054" + "0000000A" + "01020304"), bytes);
    }

    [Fact]
    public void A_whole_option_header_parses_and_is_consumed()
    {
        var bytes = HeaderBytes(trailing: 7);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.Equal(OperationStatus.Done, NbdOptionHeader.TryRead(ref reader, out var header));
        Assert.Equal(s_header, header);
        Assert.Equal(NbdOptionHeader.Size, reader.Consumed);
    }

    [Fact]
    public void Every_prefix_of_an_option_header_needs_more_data_and_consumes_nothing()
    {
        var bytes = HeaderBytes();
        for (var length = 0; length < NbdOptionHeader.Size; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, length));
            Assert.Equal(OperationStatus.NeedMoreData, NbdOptionHeader.TryRead(ref reader, out _));
            Assert.Equal(0, reader.Consumed);
        }
    }

    [Fact]
    public void Every_two_segment_split_of_an_option_header_parses_the_same()
    {
        var bytes = HeaderBytes(trailing: 3);
        for (var split = 1; split < bytes.Length; split++)
        {
            var reader = new SequenceReader<byte>(Sequences.TwoSegments(bytes, split));
            Assert.Equal(OperationStatus.Done, NbdOptionHeader.TryRead(ref reader, out var header));
            Assert.Equal(s_header, header);
            Assert.Equal(NbdOptionHeader.Size, reader.Consumed);
        }
    }

    [Fact]
    public void An_option_header_without_ihaveopt_is_invalid_data_and_consumes_nothing()
    {
        var bytes = HeaderBytes();
        bytes[7] ^= 0x01;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.Equal(OperationStatus.InvalidData, NbdOptionHeader.TryRead(ref reader, out _));
        Assert.Equal(0, reader.Consumed);
    }

    [Fact]
    public void Option_reply_bytes()
    {
        var bytes = new byte[NbdOptionReplies.SizeOf(3)];
        Assert.Equal(bytes.Length, NbdOptionReplies.Write(bytes, NbdOption.Go, NbdOptionReplyType.ErrorUnknown, "bad"u8));
        Assert.Equal(Convert.FromHexString(ReplyHeader(7, 0x80000006, 3) + "626164"), bytes);

        var ack = new byte[NbdOptionReplies.HeaderSize];
        Assert.Equal(ack.Length, NbdOptionReplies.Write(ack, NbdOption.Abort, NbdOptionReplyType.Ack));
        Assert.Equal(Convert.FromHexString(ReplyHeader(2, 1, 0)), ack);
    }

    [Fact]
    public void Server_reply_bytes()
    {
        var bytes = new byte[NbdOptionReplies.SizeOfServer(3, 2)];
        Assert.Equal(bytes.Length, NbdOptionReplies.WriteServer(bytes, "mem"u8, "hi"u8));
        Assert.Equal(Convert.FromHexString(ReplyHeader(3, 2, 9) + "00000003" + "6D656D" + "6869"), bytes);
    }

    [Fact]
    public void Info_reply_bytes()
    {
        var export = new byte[NbdOptionReplies.InfoExportSize];
        Assert.Equal(export.Length, NbdOptionReplies.WriteInfoExport(export, NbdOption.Info, 0x0102030405060708, NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.ReadOnly));
        Assert.Equal(Convert.FromHexString(ReplyHeader(6, 3, 12) + "0000" + "0102030405060708" + "0003"), export);

        var name = new byte[NbdOptionReplies.SizeOfInfoText(3)];
        Assert.Equal(name.Length, NbdOptionReplies.WriteInfoText(name, NbdOption.Go, NbdInfoType.Name, "mem"u8));
        Assert.Equal(Convert.FromHexString(ReplyHeader(7, 3, 5) + "0001" + "6D656D"), name);

        var sizes = new byte[NbdOptionReplies.InfoBlockSizeSize];
        Assert.Equal(sizes.Length, NbdOptionReplies.WriteInfoBlockSize(sizes, NbdOption.Go, 512, 4096, NbdLimits.MaxPayload));
        Assert.Equal(Convert.FromHexString(ReplyHeader(7, 3, 14) + "0003" + "00000200" + "00001000" + "02000000"), sizes);
    }

    [Fact]
    public void Meta_context_reply_bytes()
    {
        var bytes = new byte[NbdOptionReplies.SizeOfMetaContext(2)];
        Assert.Equal(bytes.Length, NbdOptionReplies.WriteMetaContext(bytes, NbdOption.SetMetaContext, 1, "ab"u8));
        Assert.Equal(Convert.FromHexString(ReplyHeader(10, 4, 6) + "00000001" + "6162"), bytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Export_name_answer_bytes_with_and_without_zeroes(bool noZeroes)
    {
        var bytes = new byte[NbdOptionReplies.SizeOfExportName(noZeroes)];
        bytes.AsSpan().Fill(0xEE); // the zeroes must be written, not assumed
        Assert.Equal(bytes.Length, NbdOptionReplies.WriteExportName(bytes, 0x100000, NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush, noZeroes));
        Assert.Equal(Convert.FromHexString("0000000000100000" + "0005" + (noZeroes ? "" : new string('0', 248))), bytes);
    }

    [Fact]
    public void An_info_request_parses_with_unknown_types_kept()
    {
        Assert.True(NbdInfoRequest.TryParse(InfoPayload("mem", 3, 1, 0x7777), out var request));
        Assert.Equal("mem", request.Name);
        Assert.Equal(new HashSet<NbdInfoType> { NbdInfoType.BlockSize, NbdInfoType.Name, (NbdInfoType)0x7777 }, request.Requested);
    }

    [Fact]
    public void Every_prefix_of_an_info_request_and_a_byte_too_many_are_malformed()
    {
        var payload = InfoPayload("disk", 1, 3);
        for (var length = 0; length < payload.Length; length++)
        {
            Assert.False(NbdInfoRequest.TryParse(payload.AsSpan(0, length), out _), $"prefix of {length} bytes");
        }

        Assert.False(NbdInfoRequest.TryParse([.. payload, 0], out _));
    }

    [Fact]
    public void An_info_request_with_a_name_past_the_protocol_limit_is_malformed() =>
        Assert.False(NbdInfoRequest.TryParse(InfoPayload(new string('x', NbdLimits.MaxString + 1)), out _));

    [Fact]
    public void A_meta_context_request_parses()
    {
        Assert.True(NbdMetaContextRequest.TryParse(MetaContextPayload("", "base:allocation", "qemu:dirty-bitmap:x"), out var request));
        Assert.Equal("", request.Name);
        Assert.Equal(["base:allocation", "qemu:dirty-bitmap:x"], request.Queries);

        Assert.True(NbdMetaContextRequest.TryParse(MetaContextPayload("mem"), out var none));
        Assert.Empty(none.Queries);
    }

    [Fact]
    public void Every_prefix_of_a_meta_context_request_and_a_byte_too_many_are_malformed()
    {
        var payload = MetaContextPayload("mem", "base:", "base:allocation");
        for (var length = 0; length < payload.Length; length++)
        {
            Assert.False(NbdMetaContextRequest.TryParse(payload.AsSpan(0, length), out _), $"prefix of {length} bytes");
        }

        Assert.False(NbdMetaContextRequest.TryParse([.. payload, 0], out _));
    }

    [Fact]
    public void A_meta_context_query_past_the_protocol_limit_is_malformed() =>
        Assert.False(NbdMetaContextRequest.TryParse(MetaContextPayload("mem", new string('q', NbdLimits.MaxString + 1)), out _));

    private static byte[] HeaderBytes(int trailing = 0)
    {
        var bytes = new byte[NbdOptionHeader.Size + trailing];
        s_header.WriteTo(bytes);
        return bytes;
    }

    private static string ReplyHeader(uint option, uint type, uint length) =>
        "0003E889045565A9" + option.ToString("X8") + type.ToString("X8") + length.ToString("X8");

    private static byte[] InfoPayload(string name, params ushort[] types)
    {
        var nameBytes = System.Text.Encoding.UTF8.GetBytes(name);
        var payload = new byte[4 + nameBytes.Length + 2 + (2 * types.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)nameBytes.Length);
        nameBytes.CopyTo(payload, 4);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(4 + nameBytes.Length), (ushort)types.Length);
        for (var i = 0; i < types.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(6 + nameBytes.Length + (2 * i)), types[i]);
        }

        return payload;
    }

    private static byte[] MetaContextPayload(string name, params string[] queries)
    {
        var stream = new MemoryStream();
        var number = new byte[4];
        void Text(string text)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            BinaryPrimitives.WriteUInt32BigEndian(number, (uint)bytes.Length);
            stream.Write(number);
            stream.Write(bytes);
        }

        Text(name);
        BinaryPrimitives.WriteUInt32BigEndian(number, (uint)queries.Length);
        stream.Write(number);
        foreach (var query in queries)
        {
            Text(query);
        }

        return stream.ToArray();
    }
}
