using System.Buffers;

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
    private int _written;

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(Reserve(sizeHint));

    public Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(Reserve(sizeHint));

    /// <summary>
    /// Writes READ data: a small payload is copied behind the replies before it; a large one is sent
    /// straight from the caller's buffer after them (one more send costs less than copying 64 KiB or more).
    /// </summary>
    public void WritePayload(ReadOnlySpan<byte> payload)
    {
        if (payload.Length >= DirectPayload)
        {
            Flush();
            stream.Write(payload);
            return;
        }

        if (payload.Length > Capacity - _written)
        {
            Flush();
        }

        payload.CopyTo(_buffer.AsSpan(_written));
        _written += payload.Length;
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
