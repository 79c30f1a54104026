using System.Buffers;
using System.Net.Sockets;
using BlockSim.Nbd.Server.Transport;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// The inline transmission's reply buffer: replies collect here and go out in one blocking write when the
/// connection has no further request waiting (or the buffer is full), so a burst of requests costs one
/// send, not one per reply. Not thread-safe: only the connection's own thread writes.
/// </summary>
internal sealed class StreamReplyWriter(Stream stream) : IBufferWriter<byte>
{
    private const int Capacity = 256 * 1024;
    private const int DirectPayload = 64 * 1024;

    // Per connection, for its lifetime; bounded, so a 32 MiB read never grows it.
    private readonly byte[] _buffer = new byte[Capacity];

    // A plain TCP or unix socket takes the replies and a large payload in one sendmsg (TLS goes through its stream).
    private readonly Socket? _socket = (stream as BlockingSocketStream)?.Socket;
    private readonly List<ArraySegment<byte>> _gather = new(2);
    private int _written;

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(Reserve(sizeHint));

    public Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(Reserve(sizeHint));

    /// <summary>
    /// Writes READ data: a small payload is copied behind the replies before it; a large one is sent
    /// straight from the caller's buffer (copying 64 KiB or more costs more than the send), together with
    /// the replies before it in one gathered send where the stream is a plain socket. Two sends put the
    /// 16-byte reply header in a packet of its own ahead of each large payload.
    /// </summary>
    public void WritePayload(byte[] payload, int offset, int length)
    {
        if (length >= DirectPayload)
        {
            if (_socket is not null && _written > 0)
            {
                SendGathered(payload, offset, length);
                return;
            }

            Flush();
            stream.Write(payload, offset, length);
            return;
        }

        if (length > Capacity - _written)
        {
            Flush();
        }

        payload.AsSpan(offset, length).CopyTo(_buffer.AsSpan(_written));
        _written += length;
    }

    /// <summary>The replies written so far and <paramref name="payload"/>, in one sendmsg; what a short send leaves goes after it.</summary>
    private void SendGathered(byte[] payload, int offset, int length)
    {
        var replies = _written;
        _written = 0;
        _gather.Clear();
        _gather.Add(new ArraySegment<byte>(_buffer, 0, replies));
        _gather.Add(new ArraySegment<byte>(payload, offset, length));
        int sent;
        try
        {
            sent = _socket!.Send(_gather);
        }
        catch (SocketException e)
        {
            throw new IOException($"The reply could not be sent: {e.Message}", e); // as the stream reports it
        }

        if (sent < replies)
        {
            stream.Write(_buffer, sent, replies - sent);
            sent = replies;
        }

        if (sent < replies + length)
        {
            stream.Write(payload, offset + (sent - replies), length - (sent - replies));
        }
    }

    /// <summary>Sends everything written so far (blocking until the socket has taken it).</summary>
    public void Flush()
    {
        if (_written > 0)
        {
            var count = _written;
            _written = 0;
            stream.Write(_buffer, 0, count);
        }
    }

    private int Reserve(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (needed > Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeHint), sizeHint, "A single reply header cannot exceed the reply buffer.");
        }

        if (Capacity - _written < needed)
        {
            Flush();
        }

        return _written;
    }
}
