using System.Diagnostics;
using System.Text.Json;
using BlockSim.Interop.Tests;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Rbd.Tests;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// Volumes named rbd:POOL/IMAGE, through the real blocksim executable against a one-node Ceph cluster: the
/// volume commands, an export serving one, and two daemons (two hosts) on one image with Ceph's lock
/// deciding who writes. The second "host" has a copy of the first's data directory, so both hold the same
/// key store (one key store for a fleet is another issue's).
/// </summary>
[Collection(CephCollection.Name)]
public sealed class RbdVolumeServeTests(CephCluster cluster, ITestOutputHelper log)
{
    [SkippableFact]
    public async Task Volume_commands_create_list_resize_and_delete_an_rbd_volume()
    {
        cluster.Require();
        using var temp = new TempDirectory();
        var name = NewName();
        var created = await CliAsync(temp.Path, "volume", "create", name, "--size", "16M");
        Assert.True(created.Exit == 0, created.Output);
        Assert.Contains(name, created.Output);

        var again = await CliAsync(temp.Path, "volume", "create", name, "--size", "16M");
        Assert.Equal(2, again.Exit);
        Assert.Contains("already exists", again.Output);

        var list = await CliAsync(temp.Path, "--json", "volume", "list", "rbd:rbd");
        Assert.True(list.Exit == 0, list.Output);
        var entry = JsonDocument.Parse(list.Output).RootElement.EnumerateArray().Single(v => v.GetProperty("name").GetString() == name);
        Assert.Equal("rbd", entry.GetProperty("store").GetString());
        Assert.Equal(name, entry.GetProperty("path").GetString());
        Assert.Equal(16L << 20, entry.GetProperty("capacity").GetInt64());

        var resized = await CliAsync(temp.Path, "--json", "volume", "resize", name, "--size", "32M");
        Assert.True(resized.Exit == 0, resized.Output);
        Assert.Equal(32L << 20, JsonDocument.Parse(resized.Output).RootElement.GetProperty("capacity").GetInt64());

        var free = await CliAsync(temp.Path, "volume", "takeover", name, "--yes");
        Assert.True(free.Exit == 0, free.Output);
        Assert.Contains("no one holds its lock", free.Output);

        var deleted = await CliAsync(temp.Path, "volume", "delete", name, "--yes");
        Assert.True(deleted.Exit == 0, deleted.Output);
        var gone = await CliAsync(temp.Path, "volume", "info", name);
        Assert.Equal(3, gone.Exit);
        Assert.Contains("There is no volume", gone.Output);

        foreach (var bad in new[] { "rbd:rbd", "rbd:rbd/a/b", "rbd:/x", "rbd:rbd/x@snap" })
        {
            var refused = await CliAsync(temp.Path, "volume", "info", bad);
            Assert.True(refused.Exit == 2, $"{bad}: {refused.Exit} {refused.Output}");
            Assert.Contains("rbd:POOL/IMAGE", refused.Output);
            Assert.DoesNotContain("   at ", refused.Output);
        }
    }

    [SkippableFact]
    public async Task One_writer_at_a_time_a_killed_daemon_is_taken_over_and_every_flushed_byte_reads_back()
    {
        cluster.Require();
        var (name, first, second) = await TwoHostsAsync();
        using var firstHost = first;
        using var secondHost = second;
        WriteConfiguration(second.Path, name);

        var flushed = new byte[256 * 1024];
        new Random(25).NextBytes(flushed);
        var firstDaemon = Serve(first.Path);
        try
        {
            var firstPort = await firstDaemon.PortAsync();
            await using (var client = await ConnectAsync(firstPort))
            {
                await client.WriteAsync(1 << 20, flushed);
                await client.FlushAsync();
                await client.WriteAsync(4 << 20, new byte[4096]); // acknowledged, never flushed: may be lost
            }

            // The second host's daemon starts, keeps the export, and refuses it while the first holds the lock.
            await using var secondDaemon = Serve(second.Path);
            var secondPort = await secondDaemon.PortAsync();
            await secondDaemon.WaitForOutputAsync("is not served here for now");
            log.WriteLine(secondDaemon.Output);
            Assert.Contains("holds its exclusive lock", secondDaemon.Output);
            Assert.Matches(@"the Ceph client at 127\.0\.0\.1:\d+/\d+ holds", secondDaemon.Output);
            var refused = await Assert.ThrowsAsync<NbdClientException>(() => ConnectAsync(secondPort));
            Assert.Contains("ErrorPolicy", refused.Message);
            Assert.Contains("another server holds the volume's lock", refused.Message);

            // The first host dies without a word; the second takes the volume over and serves it.
            await firstDaemon.KillAsync();
            var takeover = await CliAsync(second.Path, "volume", "takeover", name, "--yes");
            Assert.True(takeover.Exit == 0, takeover.Output);
            Assert.Matches(@"broke the lock of 127\.0\.0\.1:\d+/\d+", takeover.Output);
            await using (var client = await ConnectAsync(secondPort))
            {
                var back = new byte[flushed.Length];
                await client.ReadAsync(1 << 20, back);
                Assert.Equal(flushed, back);
                await client.WriteAsync(0, flushed);
                await client.FlushAsync();
            }
        }
        finally
        {
            await firstDaemon.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task A_daemon_whose_lock_is_taken_over_refuses_writes_and_attaches_instead_of_losing_them()
    {
        cluster.Require();
        var (name, first, second) = await TwoHostsAsync();
        using var firstHost = first;
        using var secondHost = second;
        await using var daemon = Serve(first.Path);
        var port = await daemon.PortAsync();
        await using var client = await ConnectAsync(port);
        var before = new byte[65536];
        new Random(26).NextBytes(before);
        await client.WriteAsync(0, before);
        await client.FlushAsync();

        // Another host takes the volume over while this daemon is alive and serving (a partition, say).
        var takeover = await CliAsync(second.Path, "volume", "takeover", name, "--yes");
        Assert.True(takeover.Exit == 0, takeover.Output);

        // Fenced: the next writes and flushes fail, and none of them lands.
        Exception? failed = null;
        for (var attempt = 0; attempt < 50 && failed is null; attempt++)
        {
            try
            {
                await client.WriteAsync(65536, new byte[4096]).WaitAsync(TimeSpan.FromSeconds(60));
                await client.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
                await Task.Delay(100);
            }
            catch (NbdClientException e)
            {
                failed = e;
            }
        }

        Assert.NotNull(failed);
        log.WriteLine(failed.Message);
        var again = await Assert.ThrowsAsync<NbdClientException>(() => ConnectAsync(port));
        Assert.Contains("taken over by another server", again.Message);
        await daemon.WaitForOutputAsync("stopped: this client no longer holds the image's exclusive lock");

        // What was flushed before the takeover is there for the new holder.
        WriteConfiguration(second.Path, name);
        await using var successor = Serve(second.Path);
        await using var next = await ConnectAsync(await successor.PortAsync());
        var back = new byte[before.Length];
        await next.ReadAsync(0, back);
        Assert.Equal(before, back);
        var tail = new byte[4096];
        await next.ReadAsync(65536, tail);
        Assert.All(tail, b => Assert.Equal(0, b));
    }

    [SkippableFact]
    public async Task A_cluster_that_does_not_answer_is_a_clear_error_for_commands_and_for_serve()
    {
        cluster.Require(); // librados must be there to fail to connect
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("dead.conf"), "[global]\nmon_host = 127.0.0.1:1\nauth_client_required = none\nclient_mount_timeout = 3\n");
        var info = await Cli.RunAsync(temp.Path, "volume", "info", "rbd:rbd/x", "--ceph-conf", "dead.conf");
        Assert.True(info.Exit == 5, $"{info.Exit}: {info.Output}");
        Assert.Contains("dead.conf as client.admin failed: the cluster did not answer in time", info.Output);
        Assert.DoesNotContain("   at ", info.Output);

        File.WriteAllText(temp.File("blocksim.json"), """{ "ceph": { "conf": "dead.conf", "client": "client.blocksim" }, "exports": { "db": { "volume": "rbd:rbd/x" } } }""");
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json", "--listen", "127.0.0.1:0", "--socket", "none");
        Assert.Equal(5, await daemon.WaitForExitAsync());
        Assert.Contains("Cannot serve export 'db' (volume 'rbd:rbd/x')", daemon.Output);
        Assert.Contains($"{temp.File("dead.conf")} as client.blocksim failed: the cluster did not answer in time", daemon.Output);
    }

    /// <summary>The kernel attach test (see <see cref="KernelAttachTests"/>) on an RBD volume: ext4 made, written, a power cut between disconnect and reconnect, verified in the guest and by the host's e2fsck.</summary>
    [SkippableFact]
    public async Task The_kernel_attaches_an_rbd_volume_makes_ext4_and_reads_it_back_through_a_power_cut()
    {
        ExternalTool.Require("qemu-system-x86_64", "qemu-system-x86");
        ExternalTool.Require("nbdcopy", "libnbd-bin");
        ExternalTool.Require("e2fsck", "e2fsprogs");
        cluster.Require();
        using var temp = new TempDirectory();
        var name = NewName();
        Assert.Equal(0, (await CliAsync(temp.Path, "volume", "create", name, "--size", "64M")).Exit);
        File.WriteAllText(temp.File("blocksim.json"), JsonSerializer.Serialize(new
        {
            ceph = new { conf = cluster.ConfigurationPath },
            exports = new { kernel = new { volume = name, simulation = new { volatileCache = true } } },
        }));
        await using var daemon = Serve(temp.Path);
        var port = await daemon.PortAsync();

        var (exit, console) = await KernelAttachTests.BootAsync(port, 4096, 1, false, 1, onDetached: () => daemon.SignalAsync("USR1"));
        foreach (var line in console.Split('\n').Where(l => l.StartsWith("KERNEL-TEST", StringComparison.Ordinal)))
        {
            log.WriteLine(line.TrimEnd());
        }

        Assert.True(exit == 0, $"the guest did not pass:\n{console}\n--- daemon ---\n{daemon.Output}");
        Assert.Contains("KERNEL-TEST PASS", console);
        Assert.Matches(KernelAttachTests.PowerCutLine(), daemon.Output);
        await KernelAttachTests.CopyAndCheckAsync(port, temp.File("copy.img"));
        Assert.Equal(0, await daemon.InterruptAsync());
    }

    /// <summary>A new RBD volume made from the first host's data directory, a second host with a copy of it, and the first's configuration serving it as export db.</summary>
    private async Task<(string Name, TempDirectory First, TempDirectory Second)> TwoHostsAsync()
    {
        var first = new TempDirectory();
        var name = NewName();
        Assert.Equal(0, (await CliAsync(first.Path, "volume", "create", name, "--size", "16M")).Exit);
        var second = CopyOf(first);
        WriteConfiguration(first.Path, name);
        return (name, first, second);
    }

    private static string NewName() => $"rbd:rbd/d-{Guid.NewGuid():N}"[..22];

    private Task<(int Exit, string Output)> CliAsync(string directory, params string[] arguments) =>
        Cli.RunAsync(directory, [.. arguments, "--ceph-conf", cluster.ConfigurationPath]);

    private static DaemonProcess Serve(string directory) =>
        DaemonProcess.Start(directory, "serve", "--config", "blocksim.json", "--listen", "127.0.0.1:0", "--socket", "none");

    private static Task<NbdClient> ConnectAsync(int port) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "db" });

    private void WriteConfiguration(string directory, string volume) =>
        File.WriteAllText(Path.Combine(directory, "blocksim.json"), JsonSerializer.Serialize(new
        {
            ceph = new { conf = cluster.ConfigurationPath },
            exports = new { db = new { volume } },
        }));

    /// <summary>Another host with the same key store: a copy of the data directory (cp -a keeps the modes the store insists on).</summary>
    private static TempDirectory CopyOf(TempDirectory original)
    {
        var copy = new TempDirectory();
        using var cp = Process.Start("cp", ["-a", $"{original.Path}/.", copy.Path])!;
        cp.WaitForExit();
        Assert.Equal(0, cp.ExitCode);
        return copy;
    }
}
