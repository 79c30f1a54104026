using System.Text.Json;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;
using BlockSim.Storage.Volumes;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// A daemon holds every volume it serves from start-up, not from the first attach: no other process can
/// change a header under it (regression: a resize of a served but not yet attached volume exited 0, the
/// client kept the old size, and a flushed write past the new end was gone after a restart).
/// </summary>
public class HeldVolumeTests
{
    private static readonly KeyRequestContext s_owner = new("user:owner");

    [Fact]
    public async Task Resize_rewrap_and_delete_of_a_served_volume_are_refused_before_any_client_attaches_and_a_flushed_write_survives()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "c1", "--size", "32M")).Exit);
        var data = new byte[65536];
        new Random(20).NextBytes(data);
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            var port = await daemon.PortAsync(); // listening, and no client has attached yet
            string[][] changes =
            [
                ["volume", "resize", "c1", "--size", "20M", "--allow-shrink"],
                ["volume", "rewrap", "c1"],
                ["volume", "delete", "c1", "--yes"],
            ];
            foreach (var change in changes)
            {
                var refused = await Cli.RunAsync(temp.Path, change);
                Assert.True(refused.Exit == 5, $"{string.Join(' ', change)} exited {refused.Exit}: {refused.Output}");
                Assert.Contains("volume 'c1'", refused.Output);
                Assert.Contains("a running blocksim daemon", refused.Output);
                Assert.DoesNotContain("   at ", refused.Output);
            }

            await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "c1" }))
            {
                Assert.Equal(32L << 20, client.Size);
                await client.WriteAsync(30L << 20, data);
                await client.FlushAsync();
            }

            Assert.Equal(0, await daemon.InterruptAsync());
        }

        var info = await Cli.RunAsync(temp.Path, "--json", "volume", "info", "c1");
        Assert.Equal(32L << 20, JsonDocument.Parse(info.Output).RootElement.GetProperty("capacity").GetInt64());
        await using (var again = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            var port = await again.PortAsync();
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "c1" });
            var back = new byte[data.Length];
            await client.ReadAsync(30L << 20, back);
            Assert.Equal(data, back);
        }

        // Once no daemon holds it, the same resize goes through.
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "resize", "c1", "--size", "20M", "--allow-shrink")).Exit);
    }

    [Fact]
    public void An_export_holds_its_volume_from_the_moment_it_is_set_up()
    {
        using var temp = new TempDirectory();
        using var store = SealedKeyStore.Create(temp.File("store"), KeyFileUnlocker.Create(temp.File("store.key")), s_owner.Principal);
        var keys = new KeyStoreVolumeKeys(store);
        var path = temp.File("v.vol");
        Volume.Create(path, 4 << 20, keys, owner: s_owner.Principal);
        using (var export = new VolumeExport("v", path, keys, NullLogger.Instance))
        {
            Assert.Contains("a running blocksim daemon", Assert.Throws<VolumeInUseException>(() => Volume.Resize(path, 2 << 20)).Message);
            Assert.Contains("a running blocksim daemon", Assert.Throws<VolumeInUseException>(() => keys.Rewrap(path, s_owner)).Message);
            Assert.Contains("a running blocksim daemon", Assert.Throws<VolumeInUseException>(() => Volume.Delete(path)).Message);
            Assert.Contains("a running blocksim daemon", Assert.Throws<VolumeInUseException>(() => new VolumeExport("again", path, keys, NullLogger.Instance)).Message);
            Assert.Equal(4 << 20, export.Size);
        }

        Assert.Equal(4 << 20, Volume.ReadHeader(path).Header.Capacity);
        Assert.Equal(2 << 20, Volume.Resize(path, 2 << 20).Capacity); // released on dispose
    }

    [SkippableFact]
    public async Task A_volume_the_daemon_cannot_open_for_writing_stops_start_up_with_a_message_naming_it()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "frozen", "--size", "4M")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "other", "--size", "4M")).Exit);
        var path = Path.Combine(temp.Path, "blocksim-data", "volumes", "frozen.vol");
        using var unwritable = Unwritable.Make(path);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none");
        await Cli.ExitsBeforeReadyAsync(daemon);
        Assert.Equal(5, await daemon.WaitForExitAsync());
        Assert.Contains("volume 'frozen'", daemon.Output);
        Assert.Contains(path, daemon.Output);
        Assert.Contains("cannot be opened for writing", daemon.Output);
        Assert.Contains("\"readOnly\": true", daemon.Output); // what to do if read-only was meant
        Assert.DoesNotContain("   at ", daemon.Output);
    }

    /// <summary>
    /// A file this process cannot open read-write, though it can read it: mode 0444 for an ordinary user;
    /// root ignores modes, so there the immutable attribute (chattr +i), removed again on dispose.
    /// </summary>
    private sealed class Unwritable : IDisposable
    {
        private readonly string _path;
        private readonly bool _immutable;

        private Unwritable(string path, bool immutable)
        {
            _path = path;
            _immutable = immutable;
        }

        public static Unwritable Make(string path)
        {
            if (!Environment.IsPrivilegedProcess)
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                return new Unwritable(path, immutable: false);
            }

            Skip.IfNot(Chattr("+i", path), "running as root without chattr +i (CAP_LINUX_IMMUTABLE, ext4-like file system): no way to make a file unwritable");
            return new Unwritable(path, immutable: true);
        }

        public void Dispose()
        {
            if (_immutable)
            {
                Chattr("-i", _path);
            }
            else
            {
                File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        private static bool Chattr(string change, string path)
        {
            try
            {
                using var chattr = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("chattr", [change, path]) { RedirectStandardError = true })!;
                chattr.WaitForExit();
                return chattr.ExitCode == 0;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return false; // no chattr
            }
        }
    }
}

/// <summary>Runs blocksim commands as child processes, as a user types them.</summary>
internal static class Cli
{
    public static async Task<(int Exit, string Output)> RunAsync(string directory, params string[] arguments)
    {
        await using var process = DaemonProcess.Start(directory, arguments);
        var exit = await process.WaitForExitAsync();
        return (exit, process.Output);
    }

    /// <summary>As <see cref="RunAsync"/>, with standard output apart (a --json document) from everything printed.</summary>
    public static async Task<(int Exit, string StandardOutput, string Output)> RunApartAsync(string directory, params string[] arguments)
    {
        await using var process = DaemonProcess.Start(directory, arguments);
        var exit = await process.WaitForExitAsync();
        return (exit, process.StandardOutput, process.Output);
    }

    /// <summary>Waits for a daemon that must fail at start-up; fails at once if it gets as far as serving.</summary>
    public static async Task ExitsBeforeReadyAsync(DaemonProcess daemon)
    {
        var exited = daemon.WaitForExitAsync();
        var serving = daemon.PortAsync();
        await Task.WhenAny(exited, serving).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(exited.IsCompleted, $"the daemon started serving:\n{daemon.Output}");
    }
}
