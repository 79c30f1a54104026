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
        var first = await EventsUnderFio(seed: 99, iodepth: 1);
        var second = await EventsUnderFio(seed: 99, iodepth: 1);
        var deep = await EventsUnderFio(seed: 99, iodepth: 32);
        var otherSeed = await EventsUnderFio(seed: 100, iodepth: 1);
        output.WriteLine($"faults: {Faults(first).Count} at QD1, {Faults(second).Count} again, {Faults(deep).Count} at QD32, {Faults(otherSeed).Count} with another seed");

        Assert.InRange(Faults(first).Count, 40, 400); // p = 0.05 of 3,000 reads
        Assert.Equal(first, second); // the whole event log, byte for byte but for the clock: every event, its request number, offset, rule and errno
        Assert.Equal(Sectors(first), Sectors(deep)); // at QD32 the request numbers differ; the faulted sector accesses do not
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

    private static List<JsonElement> Faults(List<string> events) =>
        [.. events.Select(e => JsonDocument.Parse(e).RootElement).Where(e => e.GetProperty("event").GetString() == "fault")];

    private static List<string> Sectors(List<string> events) =>
        [.. Faults(events).Select(f => $"{f.GetProperty("offset").GetInt64()}/{f.GetProperty("errno").GetInt32()}").Order(StringComparer.Ordinal)];

    /// <summary>The export's event log after a fio run, each event as its JSON without the time it happened.</summary>
    private async Task<List<string>> EventsUnderFio(long seed, int iodepth)
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
        return [.. JsonDocument.Parse(events.Output).RootElement.GetProperty("events").EnumerateArray().Select(WithoutTime)];
    }

    private static string WithoutTime(JsonElement e)
    {
        var fields = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(e.GetRawText())!;
        fields.Remove("time");
        return JsonSerializer.Serialize(fields);
    }
}
