using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;

namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// Appends records to a write log (see <see cref="WriteLogFormat"/>). Thread-safe: each append takes a lock,
/// so ids go up in the order records reach the log. Records are framed into a buffer under the lock, and a
/// thread of the writer's own puts full buffers into the stream, so a request pays for its record's copy and
/// checksum, not for the file write; at most <see cref="BuffersQueued"/> buffers wait for it, and past that an
/// append waits too (a log never drops a record). A buffer is handed on once it holds 512 KiB (few wake-ups of that thread), on
/// <see cref="Flush"/> (which waits until the stream has everything) and on <see cref="Dispose"/>, which also
/// writes the End record and asks the file system to make the log durable. When the stream fails, the writer
/// stops: nothing more is written, the next append (or Flush, or Dispose) throws, and every later one too, so
/// the file ends at most one partial record after the last whole one, which the reader reports as where it breaks.
/// </summary>
public sealed class WriteLogWriter : IDisposable
{
    /// <summary>Buffers handed to the writer's thread and not yet written, at most: 8 to 16 MiB of log.</summary>
    public const int BuffersQueued = 16;
    private const int BufferSize = 1 << 20;
    private const int HandOnAt = 512 * 1024;
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly object _gate = new();
    private readonly BlockingCollection<LogChunk> _queued = new(BuffersQueued);
    private readonly ConcurrentBag<byte[]> _spare = [];
    private readonly Thread _streamWriter;
    private byte[] _buffer = new byte[BufferSize];
    private int _buffered;
    private long _nextId = 1;
    private long _records;
    private bool _disposed;
    private volatile IOException? _broken;

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
        _streamWriter = new Thread(WriteQueued) { IsBackground = true, Name = "blocksim write log" };
        _streamWriter.Start();
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

    /// <summary>
    /// Creates a new log file, 0600 (it holds what the client wrote); refuses to overwrite one, since a log is
    /// evidence. Written with O_DIRECT where the file system takes it (see <see cref="DirectLogFile"/>), else
    /// through the page cache.
    /// </summary>
    public static WriteLogWriter Create(string path, int sectorSize, long capacity)
    {
        Stream? direct = OperatingSystem.IsLinux() ? DirectLogFile.TryCreate(path) : null;
        var file = direct
            ?? new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read, BufferSize = 1, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
        return new WriteLogWriter(file, sectorSize, capacity);
    }

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

    /// <summary>Puts every record appended so far into the stream (and, for a file, to the operating system), and waits until it is there.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowIfBroken();
            Settle(toDisk: false);
            ThrowIfBroken();
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

            var brokenBefore = _broken is not null;
            try
            {
                if (!brokenBefore)
                {
                    Span<byte> body = stackalloc byte[WriteLogFormat.EndSize];
                    BinaryPrimitives.WriteInt64LittleEndian(body, _records);
                    Append(WriteLogRecordKind.End, body, default);
                    Settle(toDisk: true);
                }
            }
            finally
            {
                _disposed = true;
                _queued.CompleteAdding();
                _streamWriter.Join();
                if (!_leaveOpen)
                {
                    _stream.Dispose();
                }
            }

            // A log that broke before is left as it broke (no End record claims it whole); one that broke now says so.
            if (!brokenBefore)
            {
                ThrowIfBroken();
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
        ThrowIfBroken();
        var bodyLength = head.Length + tail.Length;
        Span<byte> frame = stackalloc byte[WriteLogFormat.FrameHeadSize];
        BinaryPrimitives.WriteInt32LittleEndian(frame, bodyLength);
        frame[4] = (byte)kind;
        var crc = Crc32C.Update(Crc32C.Update(Crc32C.Update(Crc32C.Initial, frame), head), tail);
        Span<byte> checksum = stackalloc byte[WriteLogFormat.ChecksumSize];
        BinaryPrimitives.WriteUInt32LittleEndian(checksum, Crc32C.Finish(crc));

        Put(frame);
        Put(head);
        Put(tail);
        Put(checksum);
        _records++;
        if (_buffered >= HandOnAt)
        {
            HandOn();
        }
    }

    // A record may span buffers: the log is one stream of bytes, and the reader frames it again.
    private void Put(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var room = Math.Min(bytes.Length, _buffer.Length - _buffered);
            bytes[..room].CopyTo(_buffer.AsSpan(_buffered));
            _buffered += room;
            bytes = bytes[room..];
            if (_buffered == _buffer.Length)
            {
                HandOn();
            }
        }
    }

    /// <summary>Gives the buffer to the writer's thread (waiting while <see cref="BuffersQueued"/> are already queued) and takes a spare.</summary>
    private void HandOn()
    {
        if (_buffered == 0)
        {
            return;
        }

        _queued.Add(new LogChunk(_buffer, _buffered, null, ToDisk: false));
        _buffer = _spare.TryTake(out var spare) ? spare : new byte[BufferSize];
        _buffered = 0;
    }

    /// <summary>Hands on what is buffered and waits until the writer's thread has written and flushed it.</summary>
    private void Settle(bool toDisk)
    {
        HandOn();
        using var written = new ManualResetEventSlim();
        _queued.Add(new LogChunk(null, 0, written, toDisk));
        written.Wait();
    }

    private void ThrowIfBroken()
    {
        if (_broken is { } broken)
        {
            throw new IOException($"The write log stopped at record {_records} or before, when it could not be written: {broken.Message}", broken);
        }
    }

    // The writer's thread: writes each buffer in the order handed on; after the stream's first failure it writes nothing more.
    private void WriteQueued()
    {
        foreach (var chunk in _queued.GetConsumingEnumerable())
        {
            try
            {
                if (_broken is null)
                {
                    if (chunk.Buffer is not null)
                    {
                        _stream.Write(chunk.Buffer, 0, chunk.Length);
                    }

                    if (chunk.Written is not null)
                    {
                        FlushStream(chunk.ToDisk);
                    }
                }
            }
            catch (Exception e) // any failure of the stream stops the log: escaping this thread would end the process and leave Flush waiting
            {
                _broken = e as IOException ?? new IOException(e.Message, e);
            }
            finally
            {
                if (chunk.Buffer is not null)
                {
                    _spare.Add(chunk.Buffer);
                }

                chunk.Written?.Set();
            }
        }
    }

    private void FlushStream(bool toDisk)
    {
        if (toDisk && _stream is FileStream file)
        {
            file.Flush(flushToDisk: true);
        }
        else if (toDisk && _stream is DirectLogFile direct)
        {
            direct.FlushToDisk();
        }
        else
        {
            _stream.Flush();
        }
    }

    /// <summary>A buffer for the stream, or (with <see cref="Written"/>) a request to flush it and say when done.</summary>
    private readonly record struct LogChunk(byte[]? Buffer, int Length, ManualResetEventSlim? Written, bool ToDisk);
}
