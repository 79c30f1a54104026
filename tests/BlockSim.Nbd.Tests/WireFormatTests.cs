using System.Buffers;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Tests;

public class WireFormatTests
{
    private static readonly NbdRequest s_sample =
        new(NbdCommandFlags.Fua | NbdCommandFlags.NoHole, NbdCommand.WriteZeroes, 0x0102030405060708, 0x1122334455667788, 0x99AABBCC);

    [Fact]
    public void A_request_header_is_28_big_endian_bytes()
    {
        var bytes = new byte[NbdRequest.Size];
        s_sample.WriteTo(bytes);
        Assert.Equal(
            Convert.FromHexString("25609513" + "0003" + "0006" + "0102030405060708" + "1122334455667788" + "99AABBCC"),
            bytes);
    }

    [Fact]
    public void A_whole_header_parses_and_is_consumed()
    {
        var bytes = Bytes(s_sample, trailing: 5);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.Equal(OperationStatus.Done, NbdRequest.TryRead(ref reader, out var request));
        Assert.Equal(s_sample, request);
        Assert.Equal(NbdRequest.Size, reader.Consumed);
    }

    [Fact]
    public void Every_prefix_needs_more_data_and_consumes_nothing()
    {
        var bytes = Bytes(s_sample);
        for (var length = 0; length < NbdRequest.Size; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 0, length));
            Assert.Equal(OperationStatus.NeedMoreData, NbdRequest.TryRead(ref reader, out _));
            Assert.Equal(0, reader.Consumed);
        }
    }

    [Fact]
    public void Every_two_segment_split_parses_the_same()
    {
        var bytes = Bytes(s_sample, trailing: 3);
        for (var split = 1; split < bytes.Length; split++)
        {
            var reader = new SequenceReader<byte>(Sequences.TwoSegments(bytes, split));
            Assert.Equal(OperationStatus.Done, NbdRequest.TryRead(ref reader, out var request));
            Assert.Equal(s_sample, request);
            Assert.Equal(NbdRequest.Size, reader.Consumed);
        }
    }

    [Fact]
    public void A_wrong_magic_is_invalid_data()
    {
        var bytes = Bytes(s_sample);
        bytes[0] ^= 0xFF;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        Assert.Equal(OperationStatus.InvalidData, NbdRequest.TryRead(ref reader, out _));
        Assert.Equal(0, reader.Consumed);
    }

    [Fact]
    public void Simple_reply_bytes()
    {
        var bytes = new byte[NbdReplies.SimpleHeaderSize];
        NbdReplies.WriteSimple(bytes, NbdError.NoSpace, 0xDEADBEEFCAFEF00D);
        Assert.Equal(Convert.FromHexString("67446698" + "0000001C" + "DEADBEEFCAFEF00D"), bytes);
    }

    [Fact]
    public void Structured_chunk_header_bytes()
    {
        var bytes = new byte[NbdReplies.StructuredHeaderSize];
        NbdReplies.WriteChunkHeader(bytes, NbdReplyFlags.Done, NbdReplyType.BlockStatus, 7, 12);
        Assert.Equal(Convert.FromHexString("668E33EF" + "0001" + "0005" + "0000000000000007" + "0000000C"), bytes);
    }

    [Fact]
    public void Error_chunk_bytes()
    {
        var message = "bad"u8.ToArray();
        var bytes = new byte[NbdReplies.ErrorChunkSize(message.Length)];
        NbdReplies.WriteErrorChunk(bytes, NbdError.Invalid, 9, message);
        Assert.Equal(
            Convert.FromHexString("668E33EF" + "0001" + "8001" + "0000000000000009" + "00000009" + "00000016" + "0003" + "626164"),
            bytes);
    }

    [Fact]
    public void Constants_match_the_protocol_document()
    {
        Assert.Equal(5, (int)NbdReplyType.BlockStatus); // nbd.h says 3; the protocol and clients use 5
        Assert.Equal(0x8001, (int)NbdReplyType.Error);
        Assert.Equal(0x80000006u, (uint)NbdOptionReplyType.ErrorUnknown);
        Assert.Equal(108u, (uint)NbdError.Shutdown);
        Assert.Equal(1 << 8, (int)NbdTransmissionFlags.CanMultiConn);
    }

    private static byte[] Bytes(NbdRequest request, int trailing = 0)
    {
        var bytes = new byte[NbdRequest.Size + trailing];
        request.WriteTo(bytes);
        return bytes;
    }
}
