using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// <c>serve</c> creates the volume <c>default</c> only in a new data directory (no key store yet). Later, a
/// missing <c>default.vol</c> is lost or moved data, never replaced by a blank disk (regression: deleting it
/// and restarting logged "Created the encrypted volume" and clients got an empty 1 GiB disk).
/// </summary>
public class DefaultVolumeTests
{
    [Fact]
    public async Task A_deleted_default_volume_stops_start_up_with_what_is_missing_and_how_to_recreate_it()
    {
        using var temp = new TempDirectory();
        await using (var first = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            await first.PortAsync();
            Assert.Contains("Created the encrypted volume", first.Output); // a new data directory: created
            Assert.Equal(0, await first.InterruptAsync());
        }

        var path = Path.Combine(temp.Path, "blocksim-data", "volumes", "default.vol");
        File.Delete(path);
        await using var again = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none");
        await Cli.ExitsBeforeReadyAsync(again);
        Assert.NotEqual(0, await again.WaitForExitAsync());
        Assert.Contains(path, again.Output);
        Assert.Contains("blocksim volume create default --size 1G", again.Output);
        Assert.DoesNotContain("Created the encrypted volume", again.Output);
        Assert.DoesNotContain("   at ", again.Output);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task A_configured_default_export_whose_volume_is_gone_is_not_recreated_either()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "db", "--size", "4M")).Exit); // the key store exists now
        File.WriteAllText(temp.File("blocksim.json"), """{ "listen": ["127.0.0.1:0"], "socket": "none", "exports": { "default": {}, "db": {} } }""");
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json");
        await Cli.ExitsBeforeReadyAsync(daemon);
        Assert.NotEqual(0, await daemon.WaitForExitAsync());
        Assert.Contains("blocksim volume create default --size 1G", daemon.Output);
        Assert.False(File.Exists(Path.Combine(temp.Path, "blocksim-data", "volumes", "default.vol")));
    }

    [Fact]
    public async Task A_data_directory_made_by_volume_create_serves_its_volumes_and_gets_no_blank_default()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "a", "--size", "4M")).Exit);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none");
        var port = await daemon.PortAsync();
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "" }))
        {
            Assert.Equal(4L << 20, client.Size); // the default export is the only volume there is
        }

        Assert.Contains("Serving exports: a.", daemon.Output);
        Assert.DoesNotContain("Created the encrypted volume", daemon.Output);
        Assert.False(File.Exists(Path.Combine(temp.Path, "blocksim-data", "volumes", "default.vol")));
        Assert.Equal(0, await daemon.InterruptAsync());
    }
}
