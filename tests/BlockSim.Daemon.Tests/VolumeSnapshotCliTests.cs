using System.Text.Json;
using System.Text.RegularExpressions;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// <c>volume snapshot create|list|rollback|delete</c> as a user types them: data read back through export
/// (the key store and the decrypting path), refusals that say why and what to do, never a stack trace.
/// </summary>
public partial class VolumeSnapshotCliTests
{
    [Fact]
    public async Task Create_write_list_rollback_and_delete()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "v", "--size", "16M")).Exit);
        var first = Image(1);
        var second = Image(2);
        File.WriteAllBytes(temp.File("first.img"), first);
        File.WriteAllBytes(temp.File("second.img"), second);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "import", "v", "first.img")).Exit);

        var created = await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v@first");
        Assert.Equal(0, created.Exit);
        Assert.Contains("created snapshot v@first", created.Output);
        Assert.Matches(@"copied sparse, .* \(no reflink: .*errno \d+\)|copied as a reflink", created.Output); // ext4 and tmpfs cannot clone: the reason is given
        var snapshotPath = Path.Combine(temp.Path, "blocksim-data", "snapshots", "v@first.vol");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(snapshotPath));

        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "import", "v", "second.img")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v@a-second")).Exit); // sorts before "first" by name, after it by time
        Assert.Equal(second, await ExportAsync(temp, "v"));

        var list = await Cli.RunAsync(temp.Path, "volume", "snapshot", "list", "v");
        Assert.Equal(0, list.Exit);
        var lines = list.Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^LABEL +SIZE +CREATED +ON DISK +STATE$", lines[0]);
        Assert.StartsWith("first ", lines[1]);
        Assert.StartsWith("a-second ", lines[2]);
        Assert.All(lines[1..], l => Assert.Matches(ListLine(), l));
        var json = JsonDocument.Parse((await Cli.RunAsync(temp.Path, "--json", "volume", "snapshot", "list", "v")).Output).RootElement;
        Assert.Equal(["first", "a-second"], json.EnumerateArray().Select(s => s.GetProperty("label").GetString()!).ToArray());
        Assert.All(json.EnumerateArray(), s => Assert.Equal(16L << 20, s.GetProperty("capacity").GetInt64()));
        Assert.All(json.EnumerateArray(), s => Assert.InRange(s.GetProperty("allocatedBytes").GetInt64(), first.Length / 2, first.Length / 2 + (1 << 20))); // the zero half is holes

        Assert.Equal(2, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "rollback", "v@first")).Exit); // not confirmed
        Assert.Equal(second, await ExportAsync(temp, "v"));
        var rolled = await Cli.RunAsync(temp.Path, "volume", "snapshot", "rollback", "v@first", "--yes");
        Assert.Equal(0, rolled.Exit);
        Assert.Contains("rolled volume 'v' back to snapshot v@first", rolled.Output);
        Assert.Matches(@"copied sparse|copied as a reflink", rolled.Output);
        Assert.Equal(first, await ExportAsync(temp, "v"));
        Assert.True(File.Exists(snapshotPath)); // kept

        var deleted = await Cli.RunAsync(temp.Path, "volume", "snapshot", "delete", "v@a-second", "--yes");
        Assert.Equal(0, deleted.Exit);
        Assert.Contains("deleted snapshot v@a-second", deleted.Output);
        var again = await Cli.RunAsync(temp.Path, "volume", "snapshot", "delete", "v@a-second", "--yes");
        Assert.Equal(3, again.Exit);
        Assert.Contains("There is no snapshot v@a-second", again.Output);
        Assert.Contains("blocksim volume snapshot list v", again.Output);
        var left = (await Cli.RunAsync(temp.Path, "volume", "snapshot", "list", "v")).Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("first ", Assert.Single(left[1..])); // under the header
        Assert.Equal(first, await ExportAsync(temp, "v")); // deleting a snapshot leaves the volume alone
    }

    [Fact]
    public async Task A_served_volume_is_neither_snapshotted_nor_rolled_back_and_the_refusal_says_what_to_do()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "s", "--size", "4M")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "s@before")).Exit);
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            await daemon.PortAsync();
            foreach (var change in new[] { new[] { "volume", "snapshot", "create", "s@during" }, ["volume", "snapshot", "rollback", "s@before", "--yes"] })
            {
                var refused = await Cli.RunAsync(temp.Path, change);
                Assert.True(refused.Exit == 5, $"{string.Join(' ', change)} exited {refused.Exit}: {refused.Output}");
                Assert.Contains("Refused: volume 's'", refused.Output);
                Assert.Contains("Stop the daemon first", refused.Output);
                Assert.DoesNotContain("   at ", refused.Output);
            }

            Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "list", "s")).Exit); // reading is fine
            Assert.Equal(0, await daemon.InterruptAsync());
        }

        Assert.False(File.Exists(Path.Combine(temp.Path, "blocksim-data", "snapshots", "s@during.vol")));
        Assert.Empty(Directory.GetFiles(Path.Combine(temp.Path, "blocksim-data"), "*.tmp", SearchOption.AllDirectories));
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "s@during")).Exit); // once stopped
    }

    [Fact]
    public async Task Bad_names_and_a_label_in_use_are_refused_with_a_message()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v@taken")).Exit);
        (string Name, string Message)[] bad =
        [
            ("v", "does not name a snapshot: give the volume's name, '@' and a label"),
            ("v@", "'' is not a valid snapshot label"),
            ("v@../x", "'../x' is not a valid snapshot label"),
            ("v@.hidden", "'.hidden' is not a valid snapshot label"),
            ("v@a@b", "'a@b' is not a valid snapshot label"),
            ("v@a/b", "'a/b' is not a valid snapshot label"),
            ("v@" + new string('x', 65), "is not a valid snapshot label"),
            ("../v@x", "'../v' is not a valid volume name"),
            ("_v@x", "'_v' is not a valid volume name"),
        ];
        foreach (var (name, message) in bad)
        {
            foreach (var verb in new[] { "create", "rollback", "delete" })
            {
                var refused = await Cli.RunAsync(temp.Path, verb == "create" ? ["volume", "snapshot", verb, name] : ["volume", "snapshot", verb, name, "--yes"]);
                Assert.True(refused.Exit == 2, $"snapshot {verb} {name} exited {refused.Exit}: {refused.Output}");
                Assert.Contains(message, refused.Output);
                Assert.DoesNotContain("   at ", refused.Output);
            }
        }

        var snapshot = Path.Combine(temp.Path, "blocksim-data", "snapshots", "v@taken.vol");
        var before = File.ReadAllBytes(snapshot);
        File.WriteAllBytes(temp.File("data.img"), Image(3, 1 << 20));
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "import", "v", "data.img")).Exit);
        var duplicate = await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v@taken");
        Assert.Equal(2, duplicate.Exit);
        Assert.Contains("snapshot v@taken already exists", duplicate.Output);
        Assert.Contains("blocksim volume snapshot delete v@taken --yes", duplicate.Output);
        Assert.Equal(before, File.ReadAllBytes(snapshot));
        Assert.Equal(["v@taken.vol"], Directory.GetFiles(Path.GetDirectoryName(snapshot)!).Select(p => Path.GetFileName(p)).ToArray());

        Assert.Equal(3, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "nope@x")).Exit);
        Assert.Equal(3, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "list", "nope")).Exit);
        Assert.Equal(3, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "rollback", "v@nope", "--yes")).Exit);
    }

    [Fact]
    public async Task A_snapshot_of_an_earlier_volume_of_the_same_name_is_not_rolled_onto_the_new_one()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v@old")).Exit);
        var volume = Path.Combine(temp.Path, "blocksim-data", "volumes", "v.vol");
        File.Delete(volume); // by hand, past volume delete's refusal
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        var before = File.ReadAllBytes(volume);

        var refused = await Cli.RunAsync(temp.Path, "volume", "snapshot", "rollback", "v@old", "--yes");
        Assert.Equal(5, refused.Exit);
        Assert.Contains("is a snapshot of volume", refused.Output);
        Assert.Contains("nothing was changed", refused.Output);
        Assert.DoesNotContain("   at ", refused.Output);
        Assert.Equal(before, File.ReadAllBytes(volume));
    }

    [Fact]
    public async Task A_rollback_keeps_the_key_wrapping_of_a_re_wrap_made_after_the_snapshot()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "v", "--size", "4M")).Exit);
        var data = Image(4, 4 << 20);
        File.WriteAllBytes(temp.File("data.img"), data);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "import", "v", "data.img")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v@v1")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "key", "rotate", "alias/blocksim/default")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "rewrap", "v")).Exit);
        File.WriteAllBytes(temp.File("later.img"), Image(5, 4 << 20));
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "import", "v", "later.img")).Exit);

        var rolled = await Cli.RunAsync(temp.Path, "volume", "snapshot", "rollback", "v@v1", "--yes");
        Assert.Equal(0, rolled.Exit);
        Assert.Contains("keeps its current key wrapping", rolled.Output);
        var info = JsonDocument.Parse((await Cli.RunAsync(temp.Path, "--json", "volume", "info", "v")).Output).RootElement;
        Assert.Equal(2, info.GetProperty("keyVersion").GetInt32());
        Assert.Equal(data, await ExportAsync(temp, "v"));
    }

    [Fact]
    public async Task A_volume_with_snapshots_is_not_deleted_until_they_are()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "v2", "--size", "1M")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v@one")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v@two")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "create", "v2@x")).Exit);

        var refused = await Cli.RunAsync(temp.Path, "volume", "delete", "v", "--yes");
        Assert.Equal(2, refused.Exit);
        Assert.Contains("has 2 snapshots: v@one, v@two.", refused.Output); // not v2's
        Assert.Contains("blocksim volume snapshot delete v@one --yes", refused.Output);
        Assert.True(File.Exists(Path.Combine(temp.Path, "blocksim-data", "volumes", "v.vol")));

        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "delete", "v@one", "--yes")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "snapshot", "delete", "v@two", "--yes")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "delete", "v", "--yes")).Exit);
        Assert.True(File.Exists(Path.Combine(temp.Path, "blocksim-data", "snapshots", "v2@x.vol")));
        Assert.Equal(2, (await Cli.RunAsync(temp.Path, "volume", "delete", "v2", "--yes")).Exit);
    }

    /// <summary>Random data in the first half, zeros after: a volume's usual mix of data and holes.</summary>
    private static byte[] Image(int seed, int length = 4 << 20)
    {
        var image = new byte[length];
        new Random(seed).NextBytes(image.AsSpan(0, length / 2));
        return image;
    }

    /// <summary>The volume's decrypted contents as long as the image: export unwraps the key through the key store.</summary>
    private static async Task<byte[]> ExportAsync(TempDirectory temp, string volume)
    {
        var image = temp.File($"{volume}-{Guid.NewGuid():N}.img");
        var exported = await Cli.RunAsync(temp.Path, "volume", "export", volume, image);
        Assert.True(exported.Exit == 0, exported.Output);
        var bytes = File.ReadAllBytes(image);
        File.Delete(image);
        return bytes[..(4 << 20)];
    }

    [GeneratedRegex(@"^\S+ +16 MiB  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +[\d.]+ [KMG]?i?B  ok$")]
    private static partial Regex ListLine();
}
