using System.Text.Json;
using BlockSim.Interop.Tests;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// A seeded run's faults repeat: fio's same random workload against two daemons with the same seed gets the
/// same faults, request for request at queue depth 1 and sector for sector at 32, however requests overlap.
/// </summary>
public class FaultReproducibilityTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Fio_runs_with_the_same_seed_get_the_same_faults()
    {
        ExternalTool.Require("fio", "fio");
        var first = await FaultsUnderFio(seed: 99, iodepth: 1);
        var second = await FaultsUnderFio(seed: 99, iodepth: 1);
        var deep = await FaultsUnderFio(seed: 99, iodepth: 32);
        var otherSeed = await FaultsUnderFio(seed: 100, iodepth: 1);
        output.WriteLine($"faults: {first.Count} at QD1, {second.Count} again, {deep.Count} at QD32, {otherSeed.Count} with another seed");

        Assert.InRange(first.Count, 40, 400); // p = 0.05 of 3,000 reads
        Assert.Equal(first, second); // the same requests, by sequence number, offset and errno
        Assert.Equal(Sectors(first), Sectors(deep));
        Assert.NotEqual(Sectors(first), Sectors(otherSeed));
    }

    [SkippableFact]
    public async Task Fio_verify_flags_exactly_the_blocks_misdirected_writes_touched()
    {
        ExternalTool.Require("fio", "fio");
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "8M", "--seed", "5");
        var port = daemon.Port;
        var added = await daemon.SimAsync("fault", "add", "default", "--kind", "misdirect", "--shift-sectors", "-64", "--probability", "0.01");
        Assert.True(added.Exit == 0, added.Output);

        var job = temp.File("verify.fio");
        File.WriteAllText(job, $"""
            [global]
            ioengine=nbd
            uri=nbd://127.0.0.1:{port}/default
            rw=write
            bs=4k
            size=4m
            verify=crc32c
            do_verify=1
            verify_fatal=0
            continue_on_error=verify
            [job]
            """);
        var (_, text) = await ExternalTool.RunAsync("fio", [job]);
        var flagged = System.Text.RegularExpressions.Regex.Matches(text, @"verify: .* at file \S+ offset (\d+),").Select(m => long.Parse(m.Groups[1].Value)).ToHashSet();

        var events = await daemon.SimAsync("events", "default", "--json");
        var misdirected = JsonDocument.Parse(events.Output).RootElement.GetProperty("events").EnumerateArray().Where(e => e.GetProperty("event").GetString() == "fault").ToList();
        var touched = misdirected.SelectMany(e => new[]
        {
            e.GetProperty("offset").GetInt64(), // never written: reads as zeros
            long.Parse(e.GetProperty("detail").GetString()!.Split(' ')[^1]), // overwritten with another block's data
        }).ToHashSet();
        output.WriteLine($"{misdirected.Count} misdirected writes; fio flagged {flagged.Count} blocks");

        Assert.NotEmpty(misdirected);
        Assert.Equal(touched.Order(), flagged.Order());
    }

    private static List<string> Sectors(List<(long Sequence, long Offset, int Errno)> faults) => [.. faults.Select(f => $"{f.Offset}/{f.Errno}").Order(StringComparer.Ordinal)];

    private async Task<List<(long Sequence, long Offset, int Errno)>> FaultsUnderFio(long seed, int iodepth)
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "8M", "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var port = daemon.Port;
        var added = await daemon.SimAsync("fault", "add", "default", "--op", "read", "--probability", "0.05");
        Assert.True(added.Exit == 0, added.Output);

        var job = temp.File("faults.fio");
        File.WriteAllText(job, $"""
            [global]
            ioengine=nbd
            uri=nbd://127.0.0.1:{port}/default
            rw=randread
            bs=4k
            size=8m
            number_ios=3000
            iodepth={iodepth}
            randrepeat=1
            randseed=1234
            continue_on_error=read
            [job]
            """);
        var (exit, text) = await ExternalTool.RunAsync("fio", [job]);
        Assert.True(exit == 0, text);

        var events = await daemon.SimAsync("events", "default", "--limit", "10000", "--json");
        Assert.Equal(0, events.Exit);
        return JsonDocument.Parse(events.Output).RootElement.GetProperty("events").EnumerateArray()
            .Where(e => e.GetProperty("event").GetString() == "fault")
            .Select(e => (e.GetProperty("sequence").GetInt64(), e.GetProperty("offset").GetInt64(), e.GetProperty("errno").GetInt32()))
            .ToList();
    }
}
