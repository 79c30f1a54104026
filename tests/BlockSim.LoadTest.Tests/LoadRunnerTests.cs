using System.Net;
using System.Xml.Linq;
using HdrHistogram;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.LoadTest.Tests;

/// <summary>The load tool against an in-process server: counts, verification, reports.</summary>
public class LoadRunnerTests
{
    [Fact]
    public async Task A_verified_mixed_run_counts_requests_checks_reads_and_writes_both_reports()
    {
        await using var server = Serve(new MemoryExport("mem", 64 << 20));
        var result = await new LoadRunner(Options(server, readPercent: 50)).RunAsync();

        Assert.True(result.Requests > 100, $"only {result.Requests} requests");
        Assert.Equal(result.ReadLatency.TotalCount + result.WriteLatency.TotalCount, result.Requests);
        Assert.True(result.VerifiedReads > 0);
        Assert.Equal(0, result.VerificationFailureCount);
        Assert.Equal(0, result.Errors);
        var percentiles = LoadResult.Percentiles.Select(p => result.PercentileMicroseconds(result.Latency, p)).Append(result.Latency.GetMaxValue()).ToArray();
        Assert.Equal(percentiles.Order().ToArray(), percentiles); // p50 <= p90 <= p99 <= p99.9 <= max

        var markdown = MarkdownReport.Write(result, "plot.svg");
        Assert.Contains("| IOPS | MB/s | requests | errors | p50 | p90 | p99 | p99.9 | max |", markdown);
        Assert.Contains($"| {result.Requests:N0} |", markdown);
        Assert.Contains("0 wrong", markdown);
        var svg = XDocument.Parse(SvgPlot.Write(result));
        Assert.Equal(6, svg.Descendants(XName.Get("polyline", "http://www.w3.org/2000/svg")).Count()); // throughput; p50 and p99 over time; reads, writes and all by percentile
        var texts = svg.Descendants(XName.Get("text", "http://www.w3.org/2000/svg")).Select(t => t.Value).ToList();
        Assert.Contains("reads", texts); // the legend
        Assert.Contains("writes", texts);
    }

    [Fact]
    public async Task Verification_catches_a_server_that_returns_wrong_data()
    {
        // A small export (256 blocks), so reads soon land on blocks this run wrote (only those can be
        // verified) even when a loaded machine leaves time for few requests; on 64 MiB a CI run once had none.
        await using var server = Serve(new CorruptingExport("mem", 1 << 20));

        // Only reads of blocks this run wrote can be checked; a machine busy with other work may leave a
        // 1 s run none of those, so such a run is repeated (at most 5 times) rather than counted as a pass.
        LoadResult result;
        var runs = 0;
        do
        {
            result = await new LoadRunner(Options(server, readPercent: 50)).RunAsync();
        }
        while (result.VerifiedReads == 0 && ++runs < 5);

        Assert.True(result.VerifiedReads > 0, "no read of a written block in 5 runs");
        Assert.Equal(result.VerifiedReads, result.VerificationFailureCount); // every read is corrupted, so every checked one must fail
        Assert.Contains(result.VerificationFailures, f => f.Contains("bytes differ", StringComparison.Ordinal));
        Assert.Contains("wrong.", MarkdownReport.Write(result, null));
    }

    [Fact]
    public async Task An_open_loop_run_never_sends_more_than_its_rate()
    {
        await using var server = Serve(new MemoryExport("mem", 64 << 20));
        var options = Options(server, readPercent: 100) with { Rate = 200, QueueDepth = 4 };
        var result = await new LoadRunner(options).RunAsync();
        Assert.InRange(result.Requests, 1, (long)(200 * options.Duration.TotalSeconds) + options.Slots);
    }

    [Fact]
    public async Task An_interrupted_run_reports_the_time_it_measured_not_the_time_asked_for()
    {
        await using var server = Serve(new MemoryExport("mem", 64 << 20));
        var options = Options(server, readPercent: 100) with { Duration = TimeSpan.FromSeconds(20) };
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1.5)); // Ctrl+C after 0.2 s warm-up and 1.3 s measured
        var result = await new LoadRunner(options).RunAsync(stop.Token);
        Assert.True(result.Interrupted);
        Assert.InRange(result.Measured.TotalSeconds, 1.0, 3.0);
        Assert.Equal(result.Requests / result.Measured.TotalSeconds, result.Iops, 3);
        Assert.True(result.RequestsPerSecond.Count <= 3, $"{result.RequestsPerSecond.Count} seconds listed");
        Assert.Contains("**Interrupted** after", MarkdownReport.Write(result, null));
    }

    [Fact]
    public async Task An_interrupted_open_loop_run_ends_cleanly()
    {
        await using var server = Serve(new MemoryExport("mem", 64 << 20));
        var options = Options(server, readPercent: 100) with { Rate = 50, Duration = TimeSpan.FromSeconds(20) };
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var result = await new LoadRunner(options).RunAsync(stop.Token); // slots waiting for their next time were cancelled, not thrown
        Assert.True(result.Interrupted);
    }

    [Fact]
    public async Task A_shaped_run_follows_its_rate_and_thresholds_judge_it()
    {
        await using var server = Serve(new MemoryExport("mem", 64 << 20));
        var shape = LoadShape.Parse("ramp:0-400/s:1s,hold:400/s:1s");
        var options = Options(server, readPercent: 100) with { Shape = shape, Warmup = TimeSpan.Zero, Duration = shape.Duration };
        var result = await new LoadRunner(options).RunAsync();
        Assert.InRange(result.Requests, 500, 601); // 200 in the ramp and 400 held, none past the schedule
        Assert.Equal(2, result.RequestsPerSecond.Count);
        Assert.True(result.RequestsPerSecond[1] > result.RequestsPerSecond[0], string.Join(",", result.RequestsPerSecond));

        var judged = new Thresholds(MaxP99Microseconds: 10_000_000, MinIops: 1_000_000).Evaluate(result);
        Assert.True(judged.Single(t => t.Name == "max-p99").Passed);
        Assert.False(judged.Single(t => t.Name == "min-iops").Passed);
        Assert.Contains("Thresholds: **FAILED**.", MarkdownReport.Write(result, null, judged));
        var json = System.Text.Json.JsonDocument.Parse(LoadSummary.Of(result, judged).ToJson()).RootElement;
        Assert.False(json.GetProperty("passed").GetBoolean());
        Assert.Equal(result.Requests, json.GetProperty("requests").GetInt64());
        Assert.True(json.GetProperty("latency").GetProperty("p99").GetDouble() > 0);
    }

    [Fact]
    public async Task Errors_are_counted_by_errno_and_an_error_rate_threshold_judges_them()
    {
        await using var server = Serve(new FailingExport("mem", 16 << 20));
        var result = await new LoadRunner(Options(server, readPercent: 100) with { Verify = false }).RunAsync();
        Assert.True(result.Errors > 0);
        Assert.Equal(result.Errors, result.ErrorsByKind["EIO"]);
        Assert.InRange(result.ErrorPercent, 5, 40); // one read in five fails
        var judged = new Thresholds(MaxErrorPercent: 0.1).Evaluate(result);
        Assert.False(Assert.Single(judged).Passed);
        Assert.Contains("EIO", MarkdownReport.Write(result, null, judged));
        var json = System.Text.Json.JsonDocument.Parse(LoadSummary.Of(result, judged).ToJson()).RootElement;
        Assert.Equal(result.Errors, json.GetProperty("errorsByKind").GetProperty("EIO").GetInt64());
    }

    [Fact]
    public async Task Csv_and_html_reports_hold_every_measured_second_and_the_figures()
    {
        await using var server = Serve(new MemoryExport("mem", 64 << 20));
        var result = await new LoadRunner(Options(server, readPercent: 70) with { Duration = TimeSpan.FromSeconds(2) }).RunAsync();
        var rows = CsvReport.Write(result).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(CsvReport.Header, rows[0]);
        Assert.Equal(3, rows.Length);
        Assert.All(rows[1..], r => Assert.Matches(@"^\d+,\d+,[\d.]+,\d*,\d*$", r));
        Assert.Equal(2, result.LatencyPerSecond.Count);

        var html = HtmlReport.Write(result, new Thresholds(MaxP99Microseconds: 1e9).Evaluate(result));
        Assert.StartsWith("<!DOCTYPE html>", html);
        var page = XDocument.Parse(html["<!DOCTYPE html>".Length..]); // well-formed: every element closed
        Assert.Empty(page.Descendants("script")); // self-contained and inert
        Assert.Contains(page.Descendants("td"), td => td.Value == result.Requests.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Single(page.Descendants(XName.Get("svg", "http://www.w3.org/2000/svg")));
        Assert.Contains(page.Descendants("li"), li => li.Value.Contains("passed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0.1%", 0.1)]
    [InlineData("5", 5)]
    public void Error_rates_read_with_or_without_a_percent_sign(string text, double percent)
    {
        Assert.True(Thresholds.TryParsePercent(text, out var parsed));
        Assert.Equal(percent, parsed);
        Assert.False(Thresholds.TryParsePercent("101%", out _));
    }

    [Theory]
    [InlineData("ramp:0-100/s:10s", 0, 0.0)]
    [InlineData("ramp:0-100/s:10s", 50, 3.1623)] // 5 t^2 = 50
    [InlineData("hold:100/s:2s,hold:10/s:10s", 250, 2.0 + 5.0)]
    [InlineData("pause:5s,hold:10/s:1s", 3, 5.3)]
    public void A_shape_says_when_each_request_is_due(string text, long request, double seconds)
    {
        Assert.Equal(seconds, LoadShape.Parse(text).DueTime(request)!.Value.TotalSeconds, 3);
    }

    [Theory]
    [InlineData("ramp:0-100/s")]
    [InlineData("hold:fast/s:10s")]
    [InlineData("hold:100/s:-1s")]
    [InlineData("surge:100/s:1s")]
    public void A_shape_that_does_not_parse_says_how_to_write_one(string text)
    {
        Assert.Contains("'", Assert.Throws<FormatException>(() => LoadShape.Parse(text)).Message);
    }

    [Fact]
    public void A_shape_ends_where_its_phases_do()
    {
        var shape = LoadShape.Parse("ramp:0-100/s:10s,hold:100/s:5s");
        Assert.Equal(TimeSpan.FromSeconds(15), shape.Duration);
        Assert.Null(shape.DueTime(500 + 500)); // 500 in the ramp, 500 held
        Assert.NotNull(shape.DueTime(999));
    }

    [Theory]
    [InlineData("500us", 500)]
    [InlineData("2ms", 2000)]
    [InlineData("1.5s", 1_500_000)]
    public void Threshold_times_read_as_fio_writes_them(string text, double microseconds)
    {
        Assert.True(Thresholds.TryParseTime(text, out var parsed));
        Assert.Equal(microseconds, parsed);
        Assert.False(Thresholds.TryParseTime("2", out _));
        Assert.False(Thresholds.TryParseTime("-1ms", out _));
    }

    [Theory]
    [InlineData(0, 4.5, new[] { 0.0, 1, 2, 3, 4, 5 })]
    [InlineData(0, 23_456, new[] { 0.0, 5000, 10000, 15000, 20000, 25000 })]
    [InlineData(0, 0.37, new[] { 0.0, 0.1, 0.2, 0.3, 0.4 })]
    public void Plot_ticks_are_round_numbers_covering_the_data(double min, double max, double[] expected)
    {
        Assert.Equal(expected, SvgPlot.Ticks(min, max));
    }

    [Fact]
    public void A_block_pattern_tells_versions_blocks_and_torn_writes_apart()
    {
        var block = new byte[4096];
        var scratch = new byte[4096];
        BlockPattern.Fill(block, 7, 3);
        Assert.Null(BlockPattern.Check(block, 7, 3, scratch));
        Assert.Contains("expected version 4", BlockPattern.Check(block, 7, 4, scratch));
        Assert.Contains("found block 7", BlockPattern.Check(block, 8, 3, scratch));
        block[2048] ^= 1;
        Assert.Contains("bytes differ from offset 2048", BlockPattern.Check(block, 7, 3, scratch));
    }

    private static LoadOptions Options(NbdServer server, int readPercent) => new()
    {
        Url = $"nbd://127.0.0.1:{((IPEndPoint)server.Endpoints[0]).Port}/mem",
        ReadPercent = readPercent,
        QueueDepth = 8,
        Connections = 2,
        Warmup = TimeSpan.FromMilliseconds(200),
        Duration = TimeSpan.FromSeconds(1),
        Verify = true,
    };

    private static NbdServer Serve(INbdExport export)
    {
        var server = new NbdServer(new ExportRegistry([export]));
        server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0));
        return server;
    }

    /// <summary>Fails one read in five with an I/O error (EIO to the client).</summary>
    private sealed class FailingExport(string name, long size) : BlockDeviceExport(name, new BlockSim.Storage.Devices.MemoryBlockDevice(size)), INbdExport
    {
        private int _reads;

        async ValueTask INbdExport.ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _reads) % 5 == 0)
            {
                throw new IOException("simulated medium error");
            }

            await ReadAsync(offset, destination, cancellationToken);
        }
    }

    /// <summary>Flips one bit in the middle of every read: a broken server the tool must notice.</summary>
    private sealed class CorruptingExport(string name, long size) : BlockDeviceExport(name, new BlockSim.Storage.Devices.MemoryBlockDevice(size)), INbdExport
    {
        async ValueTask INbdExport.ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            await ReadAsync(offset, destination, cancellationToken);
            destination.Span[destination.Length / 2] ^= 1;
        }
    }
}
