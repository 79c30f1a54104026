using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Storage.Tests;

/// <summary>The log file written with O_DIRECT: after every flush it holds exactly the bytes written, in order, however they were cut.</summary>
public class DirectLogFileTests
{
    [Fact]
    public void After_every_flush_the_file_is_exactly_what_was_written()
    {
        using var folder = new TempDirectory();
        var path = folder.File("direct.bslog");
        var random = new Random(5);
        var written = new MemoryStream();
        using (var file = DirectLogFile.TryCreate(path))
        {
            Assert.NotNull(file); // ext4, xfs, btrfs and tmpfs since Linux 6.6 take O_DIRECT
            foreach (var length in new[] { 1, 4095, 1, 4096, 100_000, 1 << 20, 3 << 20, 7, 12_345, 2 << 20 })
            {
                var piece = new byte[length];
                random.NextBytes(piece);
                file.Write(piece);
                written.Write(piece);
                if (random.Next(2) == 0)
                {
                    file.Flush();
                    Assert.Equal(written.ToArray(), File.ReadAllBytes(path)); // nothing padded left in, nothing staged left out
                }
            }

            file.FlushToDisk();
            Assert.Equal(written.Length, new FileInfo(path).Length);
            file.Write(new byte[] { 42 }); // after a flush the tail block is written again, with what follows it
            written.WriteByte(42);
        }

        Assert.Equal(written.ToArray(), File.ReadAllBytes(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path)); // it holds what a client wrote
        Assert.Throws<IOException>(() => DirectLogFile.TryCreate(path)); // never over an existing log
    }

    [Fact]
    public void A_log_read_while_it_is_written_holds_every_record_up_to_the_last_flush()
    {
        using var folder = new TempDirectory();
        var path = folder.File("live.bslog");
        using var writer = WriteLogWriter.Create(path, 512, 1 << 30);
        var payload = WriteLogFormatTests.Payload(128 * 1024, 3);
        for (var i = 0; i < 20; i++)
        {
            writer.AppendCompletion(writer.AppendWrite(i * 131072L, payload, fua: i == 3), failed: false);
        }

        writer.Flush();

        using var reader = new WriteLogReader(File.OpenRead(path), allowUnfinished: true);
        var records = reader.ReadRecords().ToList();
        Assert.Equal(40, records.Count);
        Assert.All(records.Where(r => r.Kind == WriteLogRecordKind.Write), r => Assert.True(r.Payload.Span.SequenceEqual(payload)));
    }
}
