using System.Text.Json;
using BlockSim.Daemon.Service;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// An anonymous client attaching in a loop (a reviewer measured 296 attaches a second, about 700 bytes of
/// audit each): with the default configuration the log grows by a record and a summary per window, not a
/// record per attach, and <c>audit verify</c> still vouches for the whole trail.
/// </summary>
public class AuditUnderAbuseTests
{
    [Fact]
    public async Task Attaching_in_a_loop_writes_one_record_and_one_summary_and_the_log_verifies()
    {
        const int Attaches = 200;
        using var temp = new TempDirectory();
        var socket = temp.File("nbd.sock"); // Unix-socket clients meet no rate limit: every attach reaches the key store
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--size", "16M", "--listen", "127.0.0.1:0", "--socket", socket))
        {
            await daemon.PortAsync();
            for (var i = 0; i < Attaches; i++)
            {
                Assert.True(await RawAttach.TryGoAsync(socket));
            }

            Assert.Equal(0, await daemon.InterruptAsync()); // closing the store writes the window's summary
        }

        var directory = Path.Combine(temp.Path, "blocksim-data", "keystore");
        var decrypts = Directory.GetFiles(directory, "audit*.jsonl").SelectMany(File.ReadAllLines)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("eventName").GetString() == "Decrypt")
            .ToList();
        Assert.InRange(decrypts.Count, 2, 4); // two windows at most, should the loop straddle a minute
        var attaches = decrypts.Sum(d => d.TryGetProperty("additionalEventData", out var data) && data.TryGetProperty("repeatCount", out var count)
            ? int.Parse(count.GetString()!)
            : 1);
        Assert.Equal(Attaches, attaches);
        Assert.InRange(Directory.GetFiles(directory, "audit*.jsonl").Sum(f => new FileInfo(f).Length), 1, 16 * 1024);

        var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, "audit", "verify");
        Assert.True(exit == 0, output);
        var (_, shown) = await KeyStoreCliTests.Cli(temp.Path, "audit", "show");
        Assert.Contains($"x{Attaches - 1} repeats since", shown);
    }

    [Theory]
    [InlineData("""{ "audit": { "aggregationWindowSeconds": 0, "segmentSize": "0" } }""", 0, 0)]
    [InlineData("""{ "audit": { "aggregationWindowSeconds": 600, "segmentSize": "1G" } }""", 600, 1L << 30)]
    [InlineData("""{ }""", 60, 64L << 20)]
    public void The_audit_section_sets_the_window_and_the_segment_size(string json, double window, long segment)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), json);
        var audit = DaemonOptions.Load(temp.File("blocksim.json")).Audit.ToAuditOptions();
        Assert.Equal(TimeSpan.FromSeconds(window), audit.AggregationWindow);
        Assert.Equal(segment, audit.SegmentBytes);
    }

    [Theory]
    [InlineData("""{ "audit": { "aggregationWindowSeconds": -1 } }""", "audit.aggregationWindowSeconds -1: give 0 (a record per attach) to 86400 seconds")]
    [InlineData("""{ "audit": { "segmentSize": "1K" } }""", "audit.segmentSize 1K: give 64K to 64G")]
    [InlineData("""{ "audit": { "segmentSize": "lots" } }""", "(or \"0\": never rotate)")]
    public void A_bad_audit_section_is_a_configuration_problem_that_names_it(string json, string expected)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), json);
        Assert.Contains(expected, Assert.Throws<ConfigurationProblem>(() => DaemonOptions.Load(temp.File("blocksim.json"))).Message);
    }
}
