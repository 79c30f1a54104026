using BlockSim.Nbd.Client;
using BlockSim.Storage.Simulation.Recording;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// <c>"record"</c> in an export's configuration: the recording starts as the export's device is made, so the
/// log holds every write from the first (a kernel that formats, mounts and works from its first attach is
/// recorded whole), and a name that cannot be used is refused at start-up, before any client is served.
/// </summary>
public class ConfiguredRecordingTests
{
    private const int Block = 4096;

    [Fact]
    public async Task A_memory_export_is_recorded_from_its_first_write_and_the_log_is_closed_when_the_daemon_stops()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), """{ "exports": { "m": { "memory": true, "size": "1M", "record": "run" } } }""");
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            var port = await daemon.PortAsync();
            await WriteThreeBlocksAsync(port, "m");
            Assert.Equal(0, await daemon.InterruptAsync());
            Assert.Contains("every write is recorded to", daemon.Output);
        }

        var (header, records) = WriteLogReader.ReadFile(temp.File("blocksim-data/recordings/run.bslog")); // no End record: this throws
        Assert.Equal(1L << 20, header.Capacity);
        Assert.Equal([Block * 1L, Block * 2L, Block * 3L], records.Where(r => r.Kind == WriteLogRecordKind.Write).Select(r => r.Offset));
        Assert.Contains(records, r => r.Kind == WriteLogRecordKind.Flush);
        var image = temp.File("blocksim-data/recordings/run.base.img");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(image));
        Assert.All(File.ReadAllBytes(image), b => Assert.Equal(0, b)); // the base is the device before the first write
    }

    [Fact]
    public async Task A_volume_is_recorded_from_its_first_attach_and_its_base_is_the_volume_as_it_was()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "v", "--size", "4M")).Exit);
        File.WriteAllText(temp.File("blocksim.json"), """{ "exports": { "v": { "record": "first" } } }""");
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            var port = await daemon.PortAsync();
            Assert.False(File.Exists(temp.File("blocksim-data/recordings/first.bslog")), "the recording began before the volume's device was made");
            await WriteThreeBlocksAsync(port, "v");
            Assert.Equal(0, await daemon.InterruptAsync());
        }

        var (_, records) = WriteLogReader.ReadFile(temp.File("blocksim-data/recordings/first.bslog"));
        Assert.Equal(3, records.Count(r => r.Kind == WriteLogRecordKind.Write));
        Assert.True(File.Exists(temp.File("blocksim-data/recordings/first.base.vol")));
        var info = await KeyStoreCliTests.Cli(temp.Path, "crash", "show", temp.File("blocksim-data/recordings/first.bslog"));
        Assert.True(info.Exit == 0, info.Output);
    }

    [Theory]
    [InlineData("""{ "exports": { "m": { "memory": true, "size": "1M", "record": "../elsewhere" } } }""", "a plain name")]
    [InlineData("""{ "exports": { "m": { "memory": true, "size": "1M", "encrypted": true, "record": "run" } } }""", "exists only in this process")]
    public async Task A_recording_that_could_not_be_used_is_refused_at_start_up(string json, string expected)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), json);
        var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, "serve", "--config", "blocksim.json", "--socket", "none", "--listen", "127.0.0.1:0");
        Assert.Equal(2, exit);
        Assert.Contains(expected, output);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task An_existing_recording_is_never_overwritten_by_a_configured_one()
    {
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp.File("blocksim-data/recordings"));
        File.WriteAllText(temp.File("blocksim-data/recordings/run.bslog"), "evidence");
        File.WriteAllText(temp.File("blocksim.json"), """{ "exports": { "m": { "memory": true, "size": "1M", "record": "run" } } }""");
        var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, "serve", "--config", "blocksim.json", "--socket", "none", "--listen", "127.0.0.1:0");
        Assert.Equal(2, exit);
        Assert.Contains("never overwritten", output);
        Assert.Equal("evidence", File.ReadAllText(temp.File("blocksim-data/recordings/run.bslog")));
    }

    private static async Task WriteThreeBlocksAsync(int port, string export)
    {
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = export });
        for (var i = 1; i <= 3; i++)
        {
            await client.WriteAsync((ulong)(i * Block), Enumerable.Repeat((byte)i, Block).ToArray());
        }

        await client.FlushAsync();
    }
}
