using BlockSim.Storage.Simulation.Recording;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// A write log on a file system that fills (a 2 MiB tmpfs, where this test may mount one; tmpfs takes the
/// log's O_DIRECT writes since Linux 6.6): the append that cannot be written says there is no space, the log
/// stops, closing it writes nothing more and throws nothing new, and the file reads back whole up to where it broke.
/// </summary>
public class WriteLogFullDiskTests
{
    [SkippableFact]
    public async Task A_log_whose_disk_fills_stops_and_leaves_a_whole_prefix()
    {
        using var temp = new TempDirectory();
        var mount = temp.File("small");
        Directory.CreateDirectory(mount);
        Skip.IfNot(await DiskFullTests.RunAsync("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount) == 0, "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        try
        {
            var path = Path.Combine(mount, "run.bslog");
            var log = WriteLogWriter.Create(path, 512, 1L << 30);
            var payload = new byte[64 * 1024];
            var failure = Assert.Throws<IOException>(() =>
            {
                for (var i = 0; i < 1000; i++)
                {
                    log.AppendCompletion(log.AppendWrite(i * 65536L, payload, fua: false), failed: false);
                }
            });
            Assert.Contains("No space left", failure.ToString());
            var size = new FileInfo(path).Length;
            log.Dispose(); // broken before: no End record, no second attempt at the staged bytes
            Assert.Equal(size, new FileInfo(path).Length);

            using var reader = new WriteLogReader(File.OpenRead(path), allowUnfinished: true);
            var records = reader.ReadRecords().ToList();
            Assert.NotEmpty(records);
            Assert.All(records.Where(r => r.Kind == WriteLogRecordKind.Write), r => Assert.Equal(65536, r.Length));
        }
        finally
        {
            await DiskFullTests.RunAsync("umount", "-l", mount);
        }
    }
}
