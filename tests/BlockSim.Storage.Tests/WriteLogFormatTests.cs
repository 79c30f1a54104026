using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Storage.Tests;

/// <summary>The .bslog format: what goes in comes out, and every kind of damage is named where it is.</summary>
public class WriteLogFormatTests
{
    [Fact]
    public void Every_record_kind_reads_back_as_written()
    {
        var bytes = SmallLog();
        using var reader = new WriteLogReader(new MemoryStream(bytes));
        var records = reader.ReadRecords().ToList();

        Assert.True(reader.IsFinished);
        Assert.Equal(new WriteLogHeader(1, 512, 1 << 20), reader.Header);
        Assert.Equal(
            ["#0 write 1 at 512 length 40", "#1 completed 1", "#2 mark \"after-a\"", "#3 write 2 at 1024 length 7 fua", "#4 trim 3 at 4096 length 1024",
             "#5 writezeroes 4 at 8192 length 512", "#6 flush 5", "#7 failed 2", "#8 completed 3", "#9 completed 5", "#10 completed 4"],
            records.Select(r => r.ToString()));
        Assert.Equal(Payload(40, 1), records[0].Payload.ToArray());
        Assert.Equal(Payload(7, 2), records[3].Payload.ToArray());
        Assert.True(records[5].MayDeallocate);
        Assert.False(records[4].MayDeallocate);
        Assert.Equal(32, records[0].Position);
        Assert.Equal(Enumerable.Range(0, records.Count).Select(i => (long)i), records.Select(r => r.Index));
    }

    [Fact]
    public void A_log_cut_at_any_byte_is_reported_at_the_record_it_breaks_and_the_records_before_it_still_read()
    {
        var bytes = SmallLog();
        var starts = RecordStarts(bytes); // the End record's start is last, then the file's length
        for (var length = 0; length < bytes.Length; length++)
        {
            var cut = bytes[..length];
            var returned = new List<WriteLogRecord>();
            var damaged = Assert.Throws<WriteLogDamagedException>(() =>
            {
                using var reader = new WriteLogReader(new MemoryStream(cut));
                returned.AddRange(reader.ReadRecords());
            });

            if (length < 32)
            {
                Assert.Equal((WriteLogDamage.Header, -1L), (damaged.Damage, damaged.RecordIndex));
                continue;
            }

            var broken = starts.FindLastIndex(s => s <= length);
            var expected = starts[broken] == length ? WriteLogDamage.Unfinished : WriteLogDamage.Truncated;
            Assert.Equal((expected, (long)broken, starts[broken]), (damaged.Damage, damaged.RecordIndex, damaged.ByteOffset));
            Assert.Equal(broken, returned.Count);
            Assert.Contains($"record {broken} (byte {starts[broken]})", damaged.Message);

            using var tolerant = new WriteLogReader(new MemoryStream(cut), allowUnfinished: true);
            Assert.Equal(broken, tolerant.ReadRecords().Count());
            Assert.False(tolerant.IsFinished);
        }
    }

    [Fact]
    public void A_log_that_cannot_be_written_stops_there_and_reads_back_whole_up_to_where_it_broke()
    {
        var disk = new FullDisk(limit: 2_000_000); // a few of the buffers the writer hands on
        var log = new WriteLogWriter(disk, 512, 1 << 20, leaveOpen: true);
        var written = 0;
        Action fill = () =>
        {
            while (true)
            {
                log.AppendCompletion(log.AppendWrite(written * 4096L % (1 << 20), new byte[4096], fua: false), failed: false);
                written++;
            }
        };
        var failure = Assert.Throws<IOException>(fill);
        Assert.Contains("No space left", failure.Message);

        var later = Assert.Throws<IOException>(() => log.AppendFlush());
        Assert.Contains("stopped at record", later.Message);
        var size = disk.Length;
        log.Dispose(); // no End record claims the log whole
        Assert.Equal(size, disk.Length);

        var damaged = Assert.Throws<WriteLogDamagedException>(() =>
        {
            using var reader = new WriteLogReader(new MemoryStream(disk.ToArray()));
            reader.ReadRecords().ToList();
        });
        using var tolerant = new WriteLogReader(new MemoryStream(disk.ToArray()), allowUnfinished: true);
        Assert.InRange(tolerant.ReadRecords().Count(), 1, written * 2); // a whole prefix: what was still buffered is lost with the disk
        Assert.True(damaged.Damage is WriteLogDamage.Truncated or WriteLogDamage.Unfinished);
    }

    [Fact]
    public void A_stream_that_fails_in_an_unexpected_way_stops_the_log_without_ending_the_process_or_hanging_flush()
    {
        var stream = new StrangeStream();
        var log = new WriteLogWriter(stream, 512, 1 << 20, leaveOpen: true);
        log.AppendFlush();
        var failure = Assert.Throws<IOException>(log.Flush);
        Assert.Contains("not what a stream throws", failure.Message);
        Assert.Throws<IOException>(() => log.AppendFlush());
        log.Dispose(); // returns: the writer's thread is still there to be joined
    }

    [Fact]
    public void A_flipped_bit_anywhere_is_reported_at_the_record_that_holds_it()
    {
        var bytes = SmallLog();
        var starts = RecordStarts(bytes);
        for (var bit = 0; bit < bytes.Length * 8; bit++)
        {
            var flipped = (byte[])bytes.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            var returned = 0;
            var damaged = Assert.Throws<WriteLogDamagedException>(() =>
            {
                using var reader = new WriteLogReader(new MemoryStream(flipped));
                foreach (var _ in reader.ReadRecords())
                {
                    returned++;
                }
            });

            var holder = starts.FindLastIndex(s => s <= bit / 8);
            Assert.True(holder >= 0 ? damaged.RecordIndex == holder && damaged.ByteOffset == starts[holder] : damaged.Damage == WriteLogDamage.Header,
                $"bit {bit} (byte {bit / 8}): reported {damaged.Damage} at record {damaged.RecordIndex} byte {damaged.ByteOffset}, expected record {holder}");
            Assert.Equal(Math.Max(0, holder), returned);
        }
    }

    [Fact]
    public void Bytes_after_the_end_record_and_records_out_of_order_are_malformed()
    {
        var trailing = Assert.Throws<WriteLogDamagedException>(() => ReadAll([.. SmallLog(), 0]));
        Assert.Equal(WriteLogDamage.Malformed, trailing.Damage);

        // A completion of a request never submitted cannot be written, so forge one: a log whose second write record was dropped.
        var stream = new MemoryStream();
        using (var writer = new WriteLogWriter(stream, 512, 1 << 20, leaveOpen: true))
        {
            writer.AppendWrite(0, Payload(8, 1), fua: false);
            writer.AppendWrite(512, Payload(8, 2), fua: false);
            writer.AppendWrite(1024, Payload(8, 3), fua: false);
        }

        var bytes = stream.ToArray();
        var starts = RecordStarts(bytes);
        var forged = bytes[..(int)starts[1]].Concat(bytes[(int)starts[2]..]).ToArray();
        var gap = Assert.Throws<WriteLogDamagedException>(() => ReadAll(forged));
        Assert.Equal((WriteLogDamage.Malformed, 1L), (gap.Damage, gap.RecordIndex));
        Assert.Contains("request id 3 where 2 comes next", gap.Message);
    }

    [Fact]
    public void Something_that_is_not_a_log_is_refused_at_its_header()
    {
        var damaged = Assert.Throws<WriteLogDamagedException>(() => ReadAll(new byte[64]));
        Assert.Equal(WriteLogDamage.Header, damaged.Damage);
        Assert.Contains("BSIMWLOG", damaged.Message);
    }

    [Fact]
    public void Appends_from_many_threads_take_ids_in_log_order_and_all_reach_the_file()
    {
        using var folder = new TempDirectory();
        var path = folder.File("many.bslog");
        const int Threads = 8, PerThread = 400;
        using (var writer = WriteLogWriter.Create(path, 512, 1 << 30))
        {
            Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
            {
                for (var i = 0; i < PerThread; i++)
                {
                    var payload = new byte[512 * (1 + (i % 200))];
                    payload.AsSpan().Fill((byte)t);
                    var id = writer.AppendWrite((t * PerThread + i) * 512L, payload, fua: i % 7 == 0);
                    writer.AppendCompletion(id, failed: false);
                }
            });
        }

        Assert.Throws<IOException>(() => WriteLogWriter.Create(path, 512, 1 << 30)); // a log is never overwritten
        var (_, records) = WriteLogReader.ReadFile(path);
        var submitted = records.Where(r => r.Kind == WriteLogRecordKind.Write).Select(r => r.Id).ToList();
        Assert.Equal(Enumerable.Range(1, Threads * PerThread).Select(i => (long)i), submitted);
        Assert.Equal(Threads * PerThread, records.Count(r => r.Kind == WriteLogRecordKind.Completion));
        Assert.All(records.Where(r => r.Kind == WriteLogRecordKind.Write), r =>
        {
            var thread = r.Offset / 512 / PerThread;
            Assert.Equal((512 * (1 + (r.Offset / 512 % PerThread % 200)), -1), (r.Length, r.Payload.Span.IndexOfAnyExcept((byte)thread)));
        });
    }

    internal static byte[] Payload(int length, byte seed) => Enumerable.Range(0, length).Select(i => (byte)(seed * 31 + i)).ToArray();

    private static void ReadAll(byte[] bytes)
    {
        using var reader = new WriteLogReader(new MemoryStream(bytes));
        foreach (var _ in reader.ReadRecords())
        {
        }
    }

    private static List<long> RecordStarts(byte[] bytes)
    {
        var starts = new List<long>();
        for (long at = 32; at < bytes.Length; at += 9 + BitConverter.ToInt32(bytes, (int)at))
        {
            starts.Add(at);
        }

        return starts;
    }

    /// <summary>One of each kind, with completions out of submission order and a failure.</summary>
    private static byte[] SmallLog()
    {
        var stream = new MemoryStream();
        using (var writer = new WriteLogWriter(stream, 512, 1 << 20, leaveOpen: true))
        {
            var a = writer.AppendWrite(512, Payload(40, 1), fua: false);
            writer.AppendCompletion(a, failed: false);
            Assert.Equal(3, writer.AppendMark("after-a"));
            var b = writer.AppendWrite(1024, Payload(7, 2), fua: true);
            var trim = writer.AppendTrim(4096, 1024);
            var zeroes = writer.AppendWriteZeroes(8192, 512, mayDeallocate: true);
            var flush = writer.AppendFlush();
            writer.AppendCompletion(b, failed: true);
            writer.AppendCompletion(trim, failed: false);
            writer.AppendCompletion(flush, failed: false);
            writer.AppendCompletion(zeroes, failed: false);
        }

        return stream.ToArray();
    }

    /// <summary>A stream that takes bytes until it holds <c>limit</c>, then fails as a full disk does.</summary>
    private sealed class FullDisk(int limit) : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Length + buffer.Length > limit)
            {
                throw new IOException("No space left on device");
            }

            base.Write(buffer.ToArray(), 0, buffer.Length); // the array overload: MemoryStream's span one calls back here
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    }

    /// <summary>A stream whose writes fail with something other than an I/O error.</summary>
    private sealed class StrangeStream : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("not what a stream throws");

        public override void Write(ReadOnlySpan<byte> buffer) => throw new InvalidOperationException("not what a stream throws");
    }
}
