using System.Buffers;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// The inline transmission's input: blocking reads from the stream into a buffer that request headers are
/// parsed from. A WRITE payload is copied out of the buffer as far as it is there, and the rest is read
/// straight into the payload's own buffer. Not thread-safe: only the connection's own thread reads.
/// </summary>
internal sealed class StreamRequestReader
{
    private const int Capacity = 64 * 1024;

    private readonly Stream _stream;
    private readonly byte[] _buffer;
    private int _start;
    private int _end;

    /// <param name="alreadyRead">Bytes the handshake's pipe had read past the last option (requests sent without waiting).</param>
    public StreamRequestReader(Stream stream, ReadOnlySequence<byte> alreadyRead)
    {
        _stream = stream;
        _buffer = new byte[Math.Max(Capacity, alreadyRead.Length)];
        alreadyRead.CopyTo(_buffer);
        _end = (int)alreadyRead.Length;
    }

    /// <summary>True when bytes are buffered that no request has consumed yet.</summary>
    public bool HasBufferedBytes => _end > _start;

    /// <summary>Parses the next request header if the buffer holds all of it (see <see cref="NbdRequest.TryRead(ReadOnlySpan{byte}, out NbdRequest)"/>).</summary>
    public OperationStatus TryReadRequest(out NbdRequest request)
    {
        var status = NbdRequest.TryRead(_buffer.AsSpan(_start, _end - _start), out request);
        if (status == OperationStatus.Done)
        {
            _start += NbdRequest.Size;
        }

        return status;
    }

    /// <summary>Blocks until more bytes arrive; false when the client has closed its side (or the server shut it).</summary>
    public bool Fill()
    {
        if (_start > 0)
        {
            // What is left is part of a header (the rest was consumed): move it to the front.
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        _end += read;
        return read > 0;
    }

    /// <summary>Fills <paramref name="destination"/> (a WRITE payload); false when the client left part-way.</summary>
    public bool ReadExactly(Span<byte> destination)
    {
        var buffered = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, buffered).CopyTo(destination);
        _start += buffered;
        destination = destination[buffered..];
        while (!destination.IsEmpty)
        {
            var read = _stream.Read(destination);
            if (read == 0)
            {
                return false;
            }

            destination = destination[read..];
        }

        return true;
    }

    /// <summary>Reads and throws away <paramref name="count"/> bytes (a refused WRITE's payload); false when the client left part-way.</summary>
    public bool Skip(long count)
    {
        while (true)
        {
            var buffered = (int)Math.Min(count, _end - _start);
            _start += buffered;
            count -= buffered;
            if (count == 0)
            {
                return true;
            }

            if (!Fill())
            {
                return false;
            }
        }
    }
}
