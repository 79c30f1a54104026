using System.CommandLine;
using BlockSim.LoadTest;
using BlockSim.Storage;

var url = new Argument<string>("url") { Description = "nbd://HOST:PORT/EXPORT or nbd+unix:///EXPORT?socket=PATH" };
var pattern = new Option<AccessPattern>("--pattern") { Description = "random or sequential.", DefaultValueFactory = _ => AccessPattern.Random };
var readPercent = new Option<int>("--read-percent") { Description = "Share of reads, 0..100 (100: read only, 0: write only, 70: a 70/30 mix).", DefaultValueFactory = _ => 100 };
var blockSize = new Option<string>("--block-size", "-b") { Description = "Request size, e.g. 4K or 128K.", DefaultValueFactory = _ => "4K" };
var queueDepth = new Option<int>("--queue-depth", "-q") { Description = "Requests in flight per connection.", DefaultValueFactory = _ => 32 };
var connections = new Option<int>("--connections", "-c") { Description = "Connections.", DefaultValueFactory = _ => 1 };
var rate = new Option<int>("--rate") { Description = "Fixed request rate over all connections (open loop); 0: closed loop." };
var warmup = new Option<double>("--warmup") { Description = "Warm-up seconds, not measured.", DefaultValueFactory = _ => 2 };
var duration = new Option<double>("--duration", "-t") { Description = "Measured seconds.", DefaultValueFactory = _ => 10 };
var range = new Option<string?>("--range") { Description = "Use only the first part of the export, e.g. 1G." };
var verify = new Option<bool>("--verify") { Description = "Write recognisable blocks and check every read of a block written in this run." };
var seed = new Option<int>("--seed") { Description = "Seed for offsets and data.", DefaultValueFactory = _ => 1 };
var report = new Option<string?>("--report") { Description = "Write a Markdown report to this file." };
var plot = new Option<string?>("--plot") { Description = "Write an SVG plot (throughput over time, latency by percentile) to this file." };

var root = new RootCommand("blocksim-load: NBD load generator with latency percentiles (HdrHistogram).")
{
    url, pattern, readPercent, blockSize, queueDepth, connections, rate, warmup, duration, range, verify, seed, report, plot,
};
root.SetAction(async (result, cancellationToken) =>
{
    if (!ByteSize.TryParse(result.GetValue(blockSize)!, out var block) || block <= 0 || block > 32 << 20
        || result.GetValue(range) is { } rangeText && !ByteSize.TryParse(rangeText, out _)
        || result.GetValue(readPercent) is < 0 or > 100 || result.GetValue(queueDepth) < 1 || result.GetValue(connections) < 1
        || result.GetValue(duration) <= 0 || result.GetValue(warmup) < 0 || result.GetValue(rate) < 0)
    {
        Console.Error.WriteLine("Check the options: sizes like 4K or 1G (a block at most 32M), --read-percent 0..100, --queue-depth and --connections at least 1, --duration above 0.");
        return 2;
    }

    ByteSize.TryParse(result.GetValue(range) ?? "0", out var rangeBytes);
    var options = new LoadOptions
    {
        Url = result.GetValue(url)!,
        Pattern = result.GetValue(pattern),
        ReadPercent = result.GetValue(readPercent),
        BlockSize = (int)block,
        QueueDepth = result.GetValue(queueDepth),
        Connections = result.GetValue(connections),
        Rate = result.GetValue(rate),
        Warmup = TimeSpan.FromSeconds(result.GetValue(warmup)),
        Duration = TimeSpan.FromSeconds(result.GetValue(duration)),
        Range = rangeBytes,
        Verify = result.GetValue(verify),
        Seed = result.GetValue(seed),
    };

    Console.Error.WriteLine($"{options.Url}: {options.Describe()}");
    LoadResult outcome;
    try
    {
        outcome = await new LoadRunner(options, Console.Error).RunAsync(cancellationToken);
    }
    catch (Exception e) when (e is ArgumentException or IOException or System.Net.Sockets.SocketException or BlockSim.Nbd.Client.NbdClientException)
    {
        Console.Error.WriteLine(e.Message);
        return 1;
    }

    var plotFile = result.GetValue(plot);
    if (plotFile is not null)
    {
        File.WriteAllText(plotFile, SvgPlot.Write(outcome));
    }

    var markdown = MarkdownReport.Write(outcome, plotFile is null ? null : Path.GetFileName(plotFile));
    Console.WriteLine(markdown);
    if (result.GetValue(report) is { } reportFile)
    {
        File.WriteAllText(reportFile, markdown);
    }

    return outcome.VerificationFailureCount > 0 ? 3 : outcome.Errors > 0 ? 4 : 0;
});
return await root.Parse(args).InvokeAsync();
