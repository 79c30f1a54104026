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
        Assert.Equal(2, svg.Descendants(XName.Get("polyline", "http://www.w3.org/2000/svg")).Count());
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
