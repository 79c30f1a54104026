using System.Buffers.Binary;
using System.Text;

namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// Streams a write log's records back, checking each one. Anything wrong (a short file, a bad checksum, a
/// record that makes no sense, a missing End record) is a <see cref="WriteLogDamagedException"/> naming the
/// record and byte where it breaks, after every sound record before it has been returned. With
/// <c>allowUnfinished</c>, a log whose writer never closed it (a torn or missing tail) ends quietly after its
/// last whole record instead; checksum and sense errors are still thrown.
/// </summary>
public sealed class WriteLogReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _allowUnfinished;
    private readonly bool _leaveOpen;
    private readonly HashSet<long> _inFlight = [];
    private readonly byte[] _frame = new byte[WriteLogFormat.FrameHeadSize];
    private byte[] _scratch = new byte[256];
    private long _position;
    private long _index;
    private long _nextId = 1;
    private bool _ended;

    public WriteLogReader(Stream stream, bool allowUnfinished = false, bool leaveOpen = false)
    {
        _stream = stream;
        _allowUnfinished = allowUnfinished;
        _leaveOpen = leaveOpen;
        Header = ReadHeader();
    }

    public WriteLogHeader Header { get; }

    /// <summary>The End record was read: the log is complete.</summary>
    public bool IsFinished { get; private set; }

    public static WriteLogReader Open(string path, bool allowUnfinished = false) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 64 * 1024), allowUnfinished);

    /// <summary>Reads a whole log into memory.</summary>
    public static (WriteLogHeader Header, List<WriteLogRecord> Records) ReadFile(string path, bool allowUnfinished = false)
    {
        using var reader = Open(path, allowUnfinished);
        return (reader.Header, [.. reader.ReadRecords()]);
    }

    /// <summary>The records from here on, lazily.</summary>
    public IEnumerable<WriteLogRecord> ReadRecords()
    {
        while (TryRead(out var record))
        {
            yield return record;
        }
    }

    /// <summary>The next record; false at the end of the log.</summary>
    public bool TryRead(out WriteLogRecord record)
    {
        record = default;
        if (_ended)
        {
            return false;
        }

        var start = _position;
        var got = ReadFully(_frame);
        if (got < _frame.Length)
        {
            return Unfinished(got == 0 ? WriteLogDamage.Unfinished : WriteLogDamage.Truncated, start,
                got == 0 ? "the log ends without the End record its writer adds when it is closed" : $"the file ends {got} bytes into the record's frame");
        }

        var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(_frame);
        var kind = (WriteLogRecordKind)_frame[4];
        if (bodyLength < 0 || bodyLength > WriteLogFormat.MaxBodySize)
        {
            throw Damaged(WriteLogDamage.Malformed, start, $"the record claims a body of {bodyLength} bytes, more than a record holds");
        }

        var rest = bodyLength + WriteLogFormat.ChecksumSize;
        if (_stream.CanSeek && _stream.Length - _stream.Position < rest)
        {
            return Unfinished(WriteLogDamage.Truncated, start, $"the record needs {rest} more bytes but the file has {_stream.Length - _stream.Position}");
        }

        // A write's payload stays in the array it was read into; everything else is parsed from scratch space.
        var body = kind == WriteLogRecordKind.Write ? new byte[rest] : Scratch(rest);
        got = ReadFully(body.AsSpan(0, rest));
        if (got < rest)
        {
            return Unfinished(WriteLogDamage.Truncated, start, $"the file ends {got} bytes into a record of {rest}");
        }

        var crc = Crc32C.Finish(Crc32C.Update(Crc32C.Update(Crc32C.Initial, _frame), body.AsSpan(0, bodyLength)));
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(body.AsSpan(bodyLength)))
        {
            throw Damaged(WriteLogDamage.Checksum, start, "its checksum does not match its bytes");
        }

        record = Parse(kind, body, bodyLength, start);
        _index++;
        if (kind == WriteLogRecordKind.End)
        {
            _ended = true;
            IsFinished = true;
            if (ReadFully(_frame.AsSpan(0, 1)) > 0)
            {
                throw Damaged(WriteLogDamage.Malformed, _position - 1, "there are bytes after the End record");
            }

            return false;
        }

        return true;
    }

    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    private WriteLogRecord Parse(WriteLogRecordKind kind, byte[] body, int length, long start)
    {
        var span = body.AsSpan(0, length);
        var record = new WriteLogRecord { Kind = kind, Index = _index, Position = start };
        switch (kind)
        {
            case WriteLogRecordKind.Write:
                Expect(length >= WriteLogFormat.WriteFixedSize, start, "a write record shorter than its fixed fields");
                var flags = span[16];
                Expect((flags & ~WriteLogFormat.FlagFua) == 0, start, $"unknown write flags {flags:x2}");
                return Submitted(record with
                {
                    Id = BinaryPrimitives.ReadInt64LittleEndian(span),
                    Offset = BinaryPrimitives.ReadInt64LittleEndian(span[8..]),
                    Length = length - WriteLogFormat.WriteFixedSize,
                    Fua = flags == WriteLogFormat.FlagFua,
                    Payload = body.AsMemory(WriteLogFormat.WriteFixedSize, length - WriteLogFormat.WriteFixedSize),
                });
            case WriteLogRecordKind.Trim:
            case WriteLogRecordKind.WriteZeroes:
                var zeroes = kind == WriteLogRecordKind.WriteZeroes;
                Expect(length == (zeroes ? WriteLogFormat.WriteZeroesSize : WriteLogFormat.IdOffsetLengthSize), start, $"a {kind} record of {length} bytes");
                Expect(!zeroes || (span[24] & ~WriteLogFormat.FlagMayDeallocate) == 0, start, "unknown write-zeroes flags");
                return Submitted(record with
                {
                    Id = BinaryPrimitives.ReadInt64LittleEndian(span),
                    Offset = BinaryPrimitives.ReadInt64LittleEndian(span[8..]),
                    Length = BinaryPrimitives.ReadInt64LittleEndian(span[16..]),
                    MayDeallocate = zeroes && span[24] == WriteLogFormat.FlagMayDeallocate,
                });
            case WriteLogRecordKind.Flush:
                Expect(length == WriteLogFormat.FlushSize, start, $"a flush record of {length} bytes");
                return Submitted(record with { Id = BinaryPrimitives.ReadInt64LittleEndian(span) });
            case WriteLogRecordKind.Mark:
                Expect(length <= WriteLogFormat.MaxMarkBytes, start, $"a mark of {length} bytes");
                try
                {
                    return record with { MarkName = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(span) };
                }
                catch (ArgumentException)
                {
                    throw Damaged(WriteLogDamage.Malformed, start, "a mark whose name is not UTF-8");
                }

            case WriteLogRecordKind.Completion:
                Expect(length == WriteLogFormat.CompletionSize && span[8] <= WriteLogFormat.StatusFailed, start, "a malformed completion record");
                var id = BinaryPrimitives.ReadInt64LittleEndian(span);
                Expect(_inFlight.Remove(id), start, $"a completion of request {id}, which is not in flight");
                return record with { Id = id, Failed = span[8] == WriteLogFormat.StatusFailed };
            case WriteLogRecordKind.End:
                Expect(length == WriteLogFormat.EndSize && BinaryPrimitives.ReadInt64LittleEndian(span) == _index, start, "an End record that does not count the records before it");
                return record;
            default:
                throw Damaged(WriteLogDamage.Malformed, start, $"unknown record kind {(byte)kind}");
        }
    }

    /// <summary>Submissions take ids in order; anything else means records were lost or reordered.</summary>
    private WriteLogRecord Submitted(WriteLogRecord record)
    {
        Expect(record.Id == _nextId, record.Position, $"request id {record.Id} where {_nextId} comes next");
        Expect(record.Offset >= 0 && record.Length >= 0 && record.Length <= Header.Capacity - record.Offset, record.Position, $"a range ({record.Offset}, {record.Length}) outside the device");
        _nextId++;
        _inFlight.Add(record.Id);
        return record;
    }

    private WriteLogHeader ReadHeader()
    {
        Span<byte> header = stackalloc byte[WriteLogFormat.HeaderSize];
        var got = ReadFully(header);
        if (got < header.Length)
        {
            throw new WriteLogDamagedException(WriteLogDamage.Header, -1, 0, $"the file has {got} bytes, fewer than the {WriteLogFormat.HeaderSize}-byte header");
        }

        if (!header[..8].SequenceEqual(WriteLogFormat.Magic))
        {
            throw new WriteLogDamagedException(WriteLogDamage.Header, -1, 0, "the file does not start with the write log's magic \"BSIMWLOG\"");
        }

        if (Crc32C.Compute(header[..28]) != BinaryPrimitives.ReadUInt32LittleEndian(header[28..]))
        {
            throw new WriteLogDamagedException(WriteLogDamage.Header, -1, 0, "the header's checksum does not match its bytes");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        var sectorSize = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        var capacity = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        if (version != WriteLogFormat.Version || BinaryPrimitives.ReadUInt16LittleEndian(header[10..]) != WriteLogFormat.HeaderSize)
        {
            throw new WriteLogDamagedException(WriteLogDamage.Header, -1, 0, $"format version {version}, and this build reads version {WriteLogFormat.Version}");
        }

        if (sectorSize <= 0 || capacity < 0)
        {
            throw new WriteLogDamagedException(WriteLogDamage.Header, -1, 0, $"sector size {sectorSize} and capacity {capacity} describe no device");
        }

        return new WriteLogHeader(version, sectorSize, capacity);
    }

    private bool Unfinished(WriteLogDamage damage, long start, string detail)
    {
        if (_allowUnfinished)
        {
            _ended = true;
            return false;
        }

        throw Damaged(damage, start, detail);
    }

    private void Expect(bool condition, long start, string what)
    {
        if (!condition)
        {
            throw Damaged(WriteLogDamage.Malformed, start, what);
        }
    }

    private WriteLogDamagedException Damaged(WriteLogDamage damage, long start, string detail)
    {
        _ended = true; // nothing after a break can be trusted
        return new WriteLogDamagedException(damage, _index, start, detail);
    }

    private byte[] Scratch(int length)
    {
        if (_scratch.Length < length)
        {
            _scratch = new byte[Math.Max(length, _scratch.Length * 2)];
        }

        return _scratch;
    }

    private int ReadFully(Span<byte> destination)
    {
        var got = _stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        _position += got;
        return got;
    }
}
