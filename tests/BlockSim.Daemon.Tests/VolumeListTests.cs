using System.Text.Json;
using BlockSim.Storage.Tests;
using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// <c>volume list</c> lists every volume it can and marks the damaged ones (regression: one volume with both
/// headers bad made it exit 5 listing none of the others).
/// </summary>
public class VolumeListTests
{
    [Fact]
    public async Task One_damaged_volume_is_marked_and_the_others_are_still_listed()
    {
        using var temp = new TempDirectory();
        foreach (var name in new[] { "a", "b", "c", "d" })
        {
            Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", name, "--size", "4M")).Exit);
        }

        var damaged = Path.Combine(temp.Path, "blocksim-data", "volumes", "b.vol");
        using (var file = File.OpenHandle(damaged, FileMode.Open, FileAccess.ReadWrite))
        {
            foreach (var at in new[] { VolumeHeader.PrimaryOffset + 100, VolumeHeader.BackupOffset + 200 })
            {
                var one = new byte[1];
                RandomAccess.Read(file, one, at);
                one[0] ^= 0xFF;
                RandomAccess.Write(file, one, at);
            }
        }

        File.WriteAllBytes(Path.Combine(temp.Path, "blocksim-data", "volumes", "junk.vol"), new byte[8192]);
        using (var file = File.OpenHandle(Path.Combine(temp.Path, "blocksim-data", "volumes", "d.vol"), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 2 << 20);
        }

        var list = await Cli.RunAsync(temp.Path, "volume", "list");
        Assert.Equal(5, list.Exit); // as ls does: everything it could read is listed, the exit code says not all was
        Assert.DoesNotContain("   at ", list.Output);
        var lines = list.Output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("a ", StringComparison.Ordinal) && l.Contains(" 4 MiB ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("c ", StringComparison.Ordinal) && l.Contains(" 4 MiB ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("b ", StringComparison.Ordinal) && l.Contains("damaged: both volume headers are unusable", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("d ", StringComparison.Ordinal) && l.Contains("damaged: the file is 2097152 bytes, shorter than", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("junk ", StringComparison.Ordinal) && l.Contains("damaged: not a BlockSim volume", StringComparison.Ordinal));
        Assert.Contains("3 of 5 volumes cannot be used: b, d, junk.", list.Output);

        var json = await Cli.RunAsync(temp.Path, "--json", "volume", "list");
        Assert.Equal(5, json.Exit);
        var entries = JsonDocument.Parse(json.Output).RootElement.EnumerateArray()
            .ToDictionary(v => v.GetProperty("name").GetString()!, v => v.GetProperty("state").GetString()!);
        Assert.Equal(["a", "b", "c", "d", "junk"], entries.Keys.Order().ToArray());
        Assert.Equal("ok", entries["a"]);
        Assert.StartsWith("damaged: both volume headers are unusable", entries["b"]);
        Assert.Equal("ok", entries["c"]);
    }
}
