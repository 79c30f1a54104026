using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server.Handshake;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// A request's reply in the form the session chose: simple replies, or structured chunks (data, block
/// status, errors) for READ and BLOCK_STATUS once the client asked for them.
/// </summary>
internal static class RequestReplies
{
    /// <summary>Writes one reply into <paramref name="output"/> (the pipe, or the inline writer); returns its size in bytes.</summary>
    public static long Write(IBufferWriter<byte> output, RequestContext context, bool structured)
    {
        var request = context.Request;
        var carriesChunks = structured && request.Command is NbdCommand.Read or NbdCommand.BlockStatus;
        if (context.Error != NbdError.None)
        {
            if (carriesChunks)
            {
                var message = Encoding.UTF8.GetBytes(context.ErrorMessage ?? ErrorText(context.Error));
                var size = NbdReplies.ErrorChunkSize(message.Length);
                NbdReplies.WriteErrorChunk(output.GetSpan(size), context.Error, request.Cookie, message);
                output.Advance(size);
            }
            else
            {
                NbdReplies.WriteSimple(output.GetSpan(NbdReplies.SimpleHeaderSize), context.Error, request.Cookie);
                output.Advance(NbdReplies.SimpleHeaderSize);
            }

            return NbdReplies.SimpleHeaderSize;
        }

        switch (request.Command)
        {
            case NbdCommand.Read:
                WriteReadHead(output, request, structured);
                if (request.Length > 0)
                {
                    WritePayload(output, context.Buffer ?? [], (int)request.Length);
                }

                break;
            case NbdCommand.BlockStatus:
                WriteBlockStatus(output, context);
                break;
            default:
                NbdReplies.WriteSimple(output.GetSpan(NbdReplies.SimpleHeaderSize), NbdError.None, request.Cookie);
                output.Advance(NbdReplies.SimpleHeaderSize);
                break;
        }

        return NbdReplies.StructuredHeaderSize + 8 + (request.Command == NbdCommand.Read ? request.Length : 0);
    }

    /// <summary>
    /// A successful READ's reply up to its data: the simple header, or the structured OFFSET_DATA chunk's
    /// header and offset (an empty read is answered with a bare NONE chunk, as a data chunk may not be empty).
    /// </summary>
    public static void WriteReadHead(IBufferWriter<byte> output, in NbdRequest request, bool structured)
    {
        if (!structured)
        {
            NbdReplies.WriteSimple(output.GetSpan(NbdReplies.SimpleHeaderSize), NbdError.None, request.Cookie);
            output.Advance(NbdReplies.SimpleHeaderSize);
        }
        else if (request.Length == 0)
        {
            NbdReplies.WriteChunkHeader(output.GetSpan(NbdReplies.StructuredHeaderSize), NbdReplyFlags.Done, NbdReplyType.None, request.Cookie, 0);
            output.Advance(NbdReplies.StructuredHeaderSize);
        }
        else
        {
            var span = output.GetSpan(NbdReplies.StructuredHeaderSize + 8);
            NbdReplies.WriteChunkHeader(span, NbdReplyFlags.Done, NbdReplyType.OffsetData, request.Cookie, 8 + request.Length);
            BinaryPrimitives.WriteUInt64BigEndian(span[NbdReplies.StructuredHeaderSize..], request.Offset);
            output.Advance(NbdReplies.StructuredHeaderSize + 8);
        }
    }

    private static void WriteBlockStatus(IBufferWriter<byte> output, RequestContext context)
    {
        var request = context.Request;
        var length = 4 + (8 * context.ExtentCount);
        var span = output.GetSpan(NbdReplies.StructuredHeaderSize + length);
        NbdReplies.WriteChunkHeader(span, NbdReplyFlags.Done, NbdReplyType.BlockStatus, request.Cookie, (uint)length);
        span = span[NbdReplies.StructuredHeaderSize..];
        BinaryPrimitives.WriteUInt32BigEndian(span, NbdSession.AllocationContextId);
        for (var i = 0; i < context.ExtentCount; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(span[(4 + (8 * i))..], context.Extents[i].Length);
            BinaryPrimitives.WriteUInt32BigEndian(span[(8 + (8 * i))..], (uint)context.Extents[i].Flags);
        }

        output.Advance(NbdReplies.StructuredHeaderSize + length);
    }

    /// <summary>READ data: the inline writer sends a large payload straight from the buffer instead of copying it.</summary>
    private static void WritePayload(IBufferWriter<byte> output, byte[] payload, int length)
    {
        if (output is StreamReplyWriter direct)
        {
            direct.WritePayload(payload, 0, length);
        }
        else
        {
            output.Write(payload.AsSpan(0, length));
        }
    }

    private static string ErrorText(NbdError error) => error switch
    {
        NbdError.Invalid => "invalid request",
        NbdError.NotPermitted => "the export is read-only",
        NbdError.NoSpace => "the request runs past the end of the export",
        NbdError.Overflow => "the request is longer than the 32 MiB limit",
        NbdError.NotSupported => "not supported",
        NbdError.Shutdown => "the server is shutting down",
        _ => "I/O error",
    };
}
