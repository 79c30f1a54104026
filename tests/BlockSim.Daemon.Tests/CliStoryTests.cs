using System.Text.Json;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>The commands end to end on a temporary data directory, as a user types them.</summary>
public class CliStoryTests
{
    [Fact]
    public async Task Create_serve_attach_disable_refuse_audit_enable()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli(temp.Path, "volume", "create", "a", "--size", "16M")).Exit);
        Assert.Equal(0, (await Cli(temp.Path, "volume", "create", "b", "--size", "16M")).Exit);
        var list = await Cli(temp.Path, "--json", "volume", "list");
        Assert.Equal(["a", "b"], JsonDocument.Parse(list.Output).RootElement.EnumerateArray().Select(v => v.GetProperty("name").GetString()!).ToArray());

        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none");
        var port = await daemon.PortAsync();
        await using (var a = await Connect(port, "a"))
        {
            await a.WriteAsync(0, new byte[] { 7, 7, 7 });
            Assert.Equal(0, (await Cli(temp.Path, "volume", "info", "a")).Exit); // headers stay readable while served
            var back = new byte[3];
            await a.ReadAsync(0, back);
            Assert.Equal(new byte[] { 7, 7, 7 }, back);

            Assert.Equal(0, (await Cli(temp.Path, "key", "disable", "alias/blocksim/default")).Exit);
            var refused = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "b"));
            Assert.Contains("ErrorPolicy", refused.Message);
            var again = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "a")); // every attach asks the key store
            Assert.Contains("DisabledException", again.Message);
            await a.ReadAsync(0, back); // a client already attached keeps working, as an attached cloud volume does
            Assert.Equal(new byte[] { 7, 7, 7 }, back);
        }

        var audit = await Cli(temp.Path, "audit", "show", "--tail", "3");
        Assert.Contains("DENIED DisabledException", audit.Output);
        Assert.Contains("via blocksim-daemon", audit.Output);
        Assert.Equal(0, (await Cli(temp.Path, "audit", "verify")).Exit);

        Assert.Equal(0, (await Cli(temp.Path, "key", "enable", "alias/blocksim/default")).Exit);
        await using (var b = await Connect(port, "b"))
        {
            await b.FlushAsync(); // no restart needed
        }

        var busy = await Cli(temp.Path, "volume", "delete", "a", "--yes");
        Assert.Equal(5, busy.Exit); // served volumes are locked
        Assert.Contains("Stop the daemon first", busy.Output);

        Assert.Equal(0, await daemon.InterruptAsync());
    }

    [Fact]
    public async Task Exit_codes_tell_usage_not_found_and_denied_apart()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        Assert.Equal(3, (await Cli(temp.Path, "key", "describe", "alias/nope")).Exit);
        Assert.Equal(3, (await Cli(temp.Path, "volume", "info", "nope")).Exit);
        Assert.Equal(4, (await Cli(temp.Path, "--as", "user:eve", "key", "disable", "alias/blocksim/default")).Exit);
        Assert.Equal(2, (await Cli(temp.Path, "volume", "create", "bad/name", "--size", "1M")).Exit);
        Assert.Equal(2, (await Cli(temp.Path, "key", "schedule-deletion", "alias/blocksim/default")).Exit); // not confirmed
        Assert.Equal(4, (await Cli(temp.Path, "policy", "test", "alias/blocksim/default", "--principal", "user:eve", "--action", "Decrypt")).Exit);
    }

    [Fact]
    public async Task The_deletion_warning_says_what_the_re_key_at_destruction_reaches_and_what_it_cannot()
    {
        using var temp = new TempDirectory();
        var (exit, output) = await Cli(temp.Path, "key", "schedule-deletion", "alias/blocksim/default"); // not confirmed: only the warning
        Assert.Equal(2, exit);
        Assert.Contains("The destruction re-keys the store: a new root key, and a new key file in place of the old one", output);
        Assert.Contains("A passphrase slot cannot be re-sealed without its passphrase: it is removed at destruction unless the store is opened with it", output);
        Assert.Contains("Copies made before destruction (backups) still hold the key and still open with the old key file or the passphrase", output);
    }

    [Fact]
    public async Task Rotation_and_rewrap_move_a_volume_to_the_new_key_version()
    {
        using var temp = new TempDirectory();
        await Cli(temp.Path, "volume", "create", "v", "--size", "1M");
        Assert.Equal(0, (await Cli(temp.Path, "key", "rotate", "alias/blocksim/default")).Exit);
        var rewrapped = await Cli(temp.Path, "--json", "volume", "rewrap", "v");
        Assert.Equal(0, rewrapped.Exit);
        Assert.Equal(2, JsonDocument.Parse(rewrapped.Output).RootElement.GetProperty("keyVersion").GetInt32());

        await Cli(temp.Path, "volume", "create", "w", "--size", "1M");
        Assert.Equal(0, (await Cli(temp.Path, "key", "rotate", "alias/blocksim/default")).Exit);
        var all = await Cli(temp.Path, "volume", "rewrap", "--all");
        Assert.Equal(0, all.Exit);
        Assert.Contains("re-wrapping volumes: 100% 2 of 2", all.Output);
        var versions = await Cli(temp.Path, "--json", "volume", "list");
        Assert.All(JsonDocument.Parse(versions.Output).RootElement.EnumerateArray(), v => Assert.Equal(3, v.GetProperty("keyVersion").GetInt32()));
        Assert.Equal(2, (await Cli(temp.Path, "volume", "rewrap")).Exit);
    }

    [Fact]
    public async Task A_preallocated_volume_reserves_its_space_and_reads_as_zeros()
    {
        using var temp = new TempDirectory();
        var created = await Cli(temp.Path, "volume", "create", "p", "--size", "64M", "--preallocate");
        Assert.Equal(0, created.Exit);
        Assert.Contains("preallocating p: 100% 64 MiB of 64 MiB", created.Output);
        var path = Path.Combine(temp.Path, "blocksim-data", "volumes", "p.vol");
        var reserved = await Du(path);
        Assert.True(reserved >= 64L << 20, $"only {reserved} bytes are allocated on disk");

        var exported = await Cli(temp.Path, "volume", "export", "p", "p.img");
        Assert.Equal(0, exported.Exit);
        Assert.False(File.ReadAllBytes(temp.File("p.img")).AsSpan().ContainsAnyExcept((byte)0));
    }

    /// <summary>Bytes the file occupies on disk (st_blocks), not its length.</summary>
    private static async Task<long> Du(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true })!;
        var fields = (await stat.StandardOutput.ReadToEndAsync()).Split(' ', StringSplitOptions.TrimEntries);
        await stat.WaitForExitAsync();
        return long.Parse(fields[0]) * long.Parse(fields[1]);
    }

    [Fact]
    public async Task Import_resize_and_export_round_trip_an_image_with_progress_lines()
    {
        using var temp = new TempDirectory();
        await Cli(temp.Path, "volume", "create", "v", "--size", "4M");
        var image = new byte[6 << 20];
        Random.Shared.NextBytes(image.AsSpan(0, 3 << 20)); // the last 3 MiB stay zero: they must stay holes
        File.WriteAllBytes(temp.File("in.img"), image);

        var tooBig = await Cli(temp.Path, "volume", "import", "v", "in.img");
        Assert.Equal(2, tooBig.Exit);
        Assert.Contains("volume resize v --size", tooBig.Output);

        Assert.Equal(2, (await Cli(temp.Path, "volume", "resize", "v", "--size", "2M")).Exit); // shrinking needs --allow-shrink
        Assert.Equal(0, (await Cli(temp.Path, "volume", "resize", "v", "--size", "6M")).Exit);
        Assert.Equal(4, (await Cli(temp.Path, "--as", "user:eve", "volume", "import", "v", "in.img")).Exit); // not eve's key

        var imported = await Cli(temp.Path, "volume", "import", "v", "in.img");
        Assert.Equal(0, imported.Exit);
        Assert.Contains("importing in.img: 100% 6 MiB of 6 MiB", imported.Output); // not a terminal: plain lines

        var exported = await Cli(temp.Path, "volume", "export", "v", "out.img");
        Assert.Equal(0, exported.Exit);
        Assert.Contains("exporting v: 100%", exported.Output);
        Assert.Equal(image, File.ReadAllBytes(temp.File("out.img")));
        Assert.Equal(5, (await Cli(temp.Path, "volume", "export", "v", "out.img")).Exit); // exists: needs --force

        var audit = await Cli(temp.Path, "audit", "show", "--tail", "5");
        Assert.Contains("via blocksim-cli", audit.Output);
    }

    [Fact]
    public async Task Export_writes_the_decrypted_image_readable_by_its_owner_only_even_over_an_old_file()
    {
        // Regression: the plaintext image was created 0644 (with the usual umask), readable by every user.
        using var temp = new TempDirectory();
        await Cli(temp.Path, "volume", "create", "v", "--size", "1M");
        Assert.Equal(0, (await Cli(temp.Path, "volume", "export", "v", "new.img")).Exit);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(temp.File("new.img")));

        File.WriteAllText(temp.File("old.img"), "readable by all");
        File.SetUnixFileMode(temp.File("old.img"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.Equal(0, (await Cli(temp.Path, "volume", "export", "v", "old.img", "--force")).Exit);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(temp.File("old.img")));
        Assert.Equal(1L << 20, new FileInfo(temp.File("old.img")).Length);
        Assert.Empty(Directory.GetFiles(temp.Path, "*.tmp")); // the replacement was renamed into place
    }

    private static Task<NbdClient> Connect(int port, string export) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = export });

    private static async Task<(int Exit, string Output)> Cli(string directory, params string[] arguments)
    {
        await using var process = DaemonProcess.Start(directory, arguments);
        var exit = await process.WaitForExitAsync();
        return (exit, process.Output);
    }
}
