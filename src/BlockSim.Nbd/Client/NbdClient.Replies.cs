using System.Buffers.Binary;
using System.Text;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Client;

public sealed partial class NbdClient
{
    /// <summary>Reads replies until the connection closes, completing requests by cookie.</summary>
    private async Task ReceiveLoopAsync()
    {
        var header = new byte[NbdReplies.StructuredHeaderSize];
        try
        {
            while (true)
            {
                try
                {
                    await _reader.ReadExactlyAsync(header.AsMemory(0, 4)).ConfigureAwait(false);
                }
                catch (EndOfStreamException)
                {
                    break; // the server closed the connection between replies
                }

                var magic = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (magic == NbdMagic.SimpleReply)
                {
                    await _reader.ReadExactlyAsync(header.AsMemory(4, 12)).ConfigureAwait(false);
                    var error = (NbdError)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
                    var pending = Take(BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8)));
                    pending.Error = error;
                    if (pending.Command == NbdCommand.Read && error == NbdError.None)
                    {
                        await _reader.ReadExactlyAsync(pending.ReadBuffer).ConfigureAwait(false);
                    }

                    pending.Complete();
                }
                else if (magic == NbdMagic.StructuredReply)
                {
                    await _reader.ReadExactlyAsync(header.AsMemory(4, 16)).ConfigureAwait(false);
                    await ReadChunkAsync(header).ConfigureAwait(false);
                }
                else
                {
                    throw new IOException($"Reply with unknown magic 0x{magic:x8}.");
                }
            }

            Fail(new IOException("The NBD server closed the connection."));
        }
        catch (Exception e)
        {
            Fail(e);
            if (!_disposing && e is not (IOException or ObjectDisposedException or EndOfStreamException))
            {
                throw;
            }
        }
    }

    private async Task ReadChunkAsync(byte[] header)
    {
        var flags = (NbdReplyFlags)BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(4));
        var type = (NbdReplyType)BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(6));
        var cookie = BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8));
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16));
        if (!_pending.TryGetValue(cookie, out var pending))
        {
            throw new IOException($"Structured reply for unknown cookie {cookie}.");
        }

        switch (type)
        {
            case NbdReplyType.OffsetData:
            {
                var offsetBytes = new byte[8];
                await _reader.ReadExactlyAsync(offsetBytes).ConfigureAwait(false);
                var at = checked((int)(BinaryPrimitives.ReadUInt64BigEndian(offsetBytes) - pending.Offset));
                await _reader.ReadExactlyAsync(pending.ReadBuffer.Slice(at, length - 8)).ConfigureAwait(false);
                break;
            }

            case NbdReplyType.OffsetHole:
            {
                var data = new byte[12];
                await _reader.ReadExactlyAsync(data).ConfigureAwait(false);
                var at = checked((int)(BinaryPrimitives.ReadUInt64BigEndian(data) - pending.Offset));
                pending.ReadBuffer.Span.Slice(at, (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(8))).Clear();
                break;
            }

            case NbdReplyType.BlockStatus:
            {
                var data = new byte[length];
                await _reader.ReadExactlyAsync(data).ConfigureAwait(false);
                for (var at = 4; at + 8 <= length; at += 8)
                {
                    pending.Extents.Add(new NbdExtent(
                        BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at)),
                        (NbdAllocationFlags)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at + 4))));
                }

                break;
            }

            case NbdReplyType.Error:
            case NbdReplyType.ErrorOffset:
            {
                var data = new byte[length];
                await _reader.ReadExactlyAsync(data).ConfigureAwait(false);
                pending.Error = (NbdError)BinaryPrimitives.ReadUInt32BigEndian(data);
                var messageLength = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(4));
                pending.Message = Encoding.UTF8.GetString(data, 6, messageLength);
                break;
            }

            default:
            {
                await _reader.ReadExactlyAsync(new byte[length]).ConfigureAwait(false);
                break;
            }
        }

        if ((flags & NbdReplyFlags.Done) != 0)
        {
            Take(cookie).Complete();
        }
    }

    private Pending Take(ulong cookie) =>
        _pending.TryRemove(cookie, out var pending) ? pending : throw new IOException($"Reply for unknown cookie {cookie}.");

    private void Fail(Exception e)
    {
        _failure ??= e;
        foreach (var cookie in _pending.Keys)
        {
            if (_pending.TryRemove(cookie, out var pending))
            {
                pending.Done.TrySetException(new IOException("The NBD connection closed before the reply came.", e));
            }
        }
    }
}
