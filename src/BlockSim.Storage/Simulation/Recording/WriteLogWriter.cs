using System.Buffers.Binary;
using System.Text;

namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// Appends records to a write log (see <see cref="WriteLogFormat"/>). Thread-safe: each append takes a lock,
/// so ids go up in the order records reach the log. Records are gathered in a buffer and reach the stream
/// when it fills, on <see cref="Flush"/>, and on <see cref="Dispose"/>, which also writes the End record and
/// asks the file system to make the log durable. An I/O error from the stream comes out of the append that
/// met it, and the writer stops there: every later append throws too and nothing more is written, so the
/// file ends at most one partial record after the last whole one, which the reader reports as where it breaks.
/// </summary>
public sealed class WriteLogWriter : IDisposable
{
    private const int BufferSize = 64 * 1024;
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly object _gate = new();
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _buffered;
    private long _nextId = 1;
    private long _records;
    private bool _disposed;
    private IOException? _broken;

    public WriteLogWriter(Stream stream, int sectorSize, long capacity, bool leaveOpen = false)
    {
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The write log's stream must be writable.", nameof(stream));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sectorSize);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _stream = stream;
        _leaveOpen = leaveOpen;
        Header = new WriteLogHeader(WriteLogFormat.Version, sectorSize, capacity);
        WriteHeader(_buffer, Header);
        _buffered = WriteLogFormat.HeaderSize;
    }

    public WriteLogHeader Header { get; }

    /// <summary>Records appended so far: the crash point right after the last of them.</summary>
    public long Records
    {
        get
        {
            lock (_gate)
            {
                return _records;
            }
        }
    }

    /// <summary>Creates a new log file, 0600 (it holds what the client wrote); refuses to overwrite one, since a log is evidence.</summary>
    public static WriteLogWriter Create(string path, int sectorSize, long capacity) =>
        new(new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read, BufferSize = 1, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }), sectorSize, capacity);

    /// <summary>Logs a write's submission, with the bytes the device below is given; returns its id.</summary>
    public long AppendWrite(long offset, ReadOnlySpan<byte> payload, bool fua)
    {
        if (payload.Length > WriteLogFormat.MaxBodySize - WriteLogFormat.WriteFixedSize)
        {
            throw new ArgumentException($"A write of {payload.Length} bytes is larger than a write log record holds ({WriteLogFormat.MaxBodySize - WriteLogFormat.WriteFixedSize}); split it.", nameof(payload));
        }

        Span<byte> fixedPart = stackalloc byte[WriteLogFormat.WriteFixedSize];
        lock (_gate)
        {
            var id = _nextId;
            BinaryPrimitives.WriteInt64LittleEndian(fixedPart, id);
            BinaryPrimitives.WriteInt64LittleEndian(fixedPart[8..], offset);
            fixedPart[16] = fua ? WriteLogFormat.FlagFua : (byte)0;
            Append(WriteLogRecordKind.Write, fixedPart, payload);
            _nextId++;
            return id;
        }
    }

    public long AppendTrim(long offset, long length) => AppendRange(WriteLogRecordKind.Trim, offset, length, flags: null);

    public long AppendWriteZeroes(long offset, long length, bool mayDeallocate) =>
        AppendRange(WriteLogRecordKind.WriteZeroes, offset, length, mayDeallocate ? WriteLogFormat.FlagMayDeallocate : (byte)0);

    public long AppendFlush()
    {
        Span<byte> body = stackalloc byte[WriteLogFormat.FlushSize];
        lock (_gate)
        {
            var id = _nextId;
            BinaryPrimitives.WriteInt64LittleEndian(body, id);
            Append(WriteLogRecordKind.Flush, body, default);
            _nextId++;
            return id;
        }
    }

    /// <summary>Logs that request <paramref name="id"/> finished; a failed one may still have changed the device in part.</summary>
    public void AppendCompletion(long id, bool failed)
    {
        Span<byte> body = stackalloc byte[WriteLogFormat.CompletionSize];
        BinaryPrimitives.WriteInt64LittleEndian(body, id);
        body[8] = failed ? WriteLogFormat.StatusFailed : (byte)0;
        lock (_gate)
        {
            if (id <= 0 || id >= _nextId)
            {
                throw new ArgumentOutOfRangeException(nameof(id), id, "No request with this id was submitted to this log.");
            }

            Append(WriteLogRecordKind.Completion, body, default);
        }
    }

    /// <summary>Logs a named point; returns the crash point right after it (the number of records up to and including it).</summary>
    public long AppendMark(string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        if (bytes.Length > WriteLogFormat.MaxMarkBytes)
        {
            throw new ArgumentException($"A mark's name is at most {WriteLogFormat.MaxMarkBytes} bytes of UTF-8; this one is {bytes.Length}.", nameof(name));
        }

        lock (_gate)
        {
            Append(WriteLogRecordKind.Mark, bytes, default);
            return _records;
        }
    }

    /// <summary>Hands what is buffered to the stream (and, for a file, to the operating system).</summary>
    public void Flush()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Drain();
            _stream.Flush();
        }
    }

    /// <summary>Writes the End record and makes the log durable. Appends after this throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                if (_broken is not null)
                {
                    return; // a log that broke is left as it broke: no End record claims it whole
                }

                Span<byte> body = stackalloc byte[WriteLogFormat.EndSize];
                BinaryPrimitives.WriteInt64LittleEndian(body, _records);
                Append(WriteLogRecordKind.End, body, default);
                Drain();
                if (_stream is FileStream file)
                {
                    file.Flush(flushToDisk: true);
                }
                else
                {
                    _stream.Flush();
                }
            }
            finally
            {
                _disposed = true;
                if (!_leaveOpen)
                {
                    _stream.Dispose();
                }
            }
        }
    }

    internal static void WriteHeader(Span<byte> destination, WriteLogHeader header)
    {
        WriteLogFormat.Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], (ushort)header.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], WriteLogFormat.HeaderSize);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], header.SectorSize);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], header.Capacity);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[28..], Crc32C.Compute(destination[..28]));
    }

    private long AppendRange(WriteLogRecordKind kind, long offset, long length, byte? flags)
    {
        Span<byte> body = stackalloc byte[WriteLogFormat.WriteZeroesSize];
        body = flags is null ? body[..WriteLogFormat.IdOffsetLengthSize] : body;
        lock (_gate)
        {
            var id = _nextId;
            BinaryPrimitives.WriteInt64LittleEndian(body, id);
            BinaryPrimitives.WriteInt64LittleEndian(body[8..], offset);
            BinaryPrimitives.WriteInt64LittleEndian(body[16..], length);
            if (flags is { } value)
            {
                body[24] = value;
            }

            Append(kind, body, default);
            _nextId++;
            return id;
        }
    }

    /// <summary>Frames one record (under the lock): the body is <paramref name="head"/> then <paramref name="tail"/>, so a payload is never copied into a second buffer first.</summary>
    private void Append(WriteLogRecordKind kind, ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_broken is not null)
        {
            throw new IOException($"The write log stopped at record {_records}, when it could not be written: {_broken.Message}", _broken);
        }

        var bodyLength = head.Length + tail.Length;
        Span<byte> frame = stackalloc byte[WriteLogFormat.FrameHeadSize];
        BinaryPrimitives.WriteInt32LittleEndian(frame, bodyLength);
        frame[4] = (byte)kind;
        var crc = Crc32C.Update(Crc32C.Update(Crc32C.Update(Crc32C.Initial, frame), head), tail);
        Span<byte> checksum = stackalloc byte[WriteLogFormat.ChecksumSize];
        BinaryPrimitives.WriteUInt32LittleEndian(checksum, Crc32C.Finish(crc));

        try
        {
            Put(frame);
            Put(head);
            Put(tail);
            Put(checksum);
        }
        catch (IOException e)
        {
            _broken = e;
            throw;
        }

        _records++;
    }

    private void Put(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length - _buffered)
        {
            Drain();
            if (bytes.Length >= _buffer.Length)
            {
                _stream.Write(bytes); // a big payload goes straight through
                return;
            }
        }

        bytes.CopyTo(_buffer.AsSpan(_buffered));
        _buffered += bytes.Length;
    }

    private void Drain()
    {
        if (_buffered > 0)
        {
            _stream.Write(_buffer, 0, _buffered);
            _buffered = 0;
        }
    }
}
