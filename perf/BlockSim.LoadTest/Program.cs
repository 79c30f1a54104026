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
var shape = new Option<string?>("--shape") { Description = "Open loop at a rate that changes: phases ramp:FROM-TO/s:DURATION, hold:RATE/s:DURATION, pause:DURATION, comma-separated, e.g. ramp:0-5000/s:30s,hold:5000/s:60s. The run lasts as long as the shape, with no warm-up; instead of --rate and --duration." };
var maxP50 = new Option<string?>("--max-p50") { Description = "Fail the run (exit 1) if the median latency is above this, e.g. 200us, 2ms." };
var maxP99 = new Option<string?>("--max-p99") { Description = "Fail the run (exit 1) if p99 latency is above this." };
var maxP999 = new Option<string?>("--max-p999") { Description = "Fail the run (exit 1) if p99.9 latency is above this." };
var minIops = new Option<double?>("--min-iops") { Description = "Fail the run (exit 1) if it makes fewer IOPS than this." };
var maxErrors = new Option<long?>("--max-errors") { Description = "Fail the run (exit 1) on more errors than this (without it or --max-error-rate, any error is exit 4)." };
var maxErrorRate = new Option<string?>("--max-error-rate") { Description = "Fail the run (exit 1) if more than this share of requests fail, e.g. 0.1%." };
var html = new Option<string?>("--html") { Description = "Write a self-contained HTML report (tables and the plot, no scripts) to this file." };
var json = new Option<string?>("--json") { Description = "Write the results as JSON to this file ('-' for standard output, instead of the Markdown)." };
var csv = new Option<string?>("--csv") { Description = "Write requests and MB/s per measured second as CSV to this file." };

var root = new RootCommand("blocksim-load: NBD load generator with latency percentiles (HdrHistogram).")
{
    url, pattern, readPercent, blockSize, queueDepth, connections, rate, warmup, duration, range, verify, seed, report, plot, shape, maxP50, maxP99, maxP999, minIops, maxErrors, maxErrorRate, json, csv, html,
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

    LoadShape? loadShape = null;
    if (result.GetValue(shape) is { } shapeText)
    {
        if (result.GetResult(rate) is { Implicit: false } || result.GetResult(duration) is { Implicit: false } || result.GetResult(warmup) is { Implicit: false })
        {
            Console.Error.WriteLine("--shape sets the rate and the length of the run: leave out --rate, --duration and --warmup.");
            return 2;
        }

        try
        {
            loadShape = LoadShape.Parse(shapeText);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            Console.Error.WriteLine($"--shape: {e.Message}");
            return 2;
        }
    }

    double? Time(Option<string?> option)
    {
        if (result.GetValue(option) is not { } text)
        {
            return null;
        }

        return Thresholds.TryParseTime(text, out var microseconds) ? microseconds : throw new FormatException($"{option.Name} {text}: give a time such as 500us, 2ms or 1.5s.");
    }

    Thresholds thresholds;
    try
    {
        double? errorPercent = result.GetValue(maxErrorRate) is not { } rateText ? null
            : Thresholds.TryParsePercent(rateText, out var percent) ? percent
            : throw new FormatException($"--max-error-rate {rateText}: give a share of requests from 0% to 100%, e.g. 0.1%.");
        thresholds = new Thresholds(Time(maxP50), Time(maxP99), Time(maxP999), result.GetValue(minIops), result.GetValue(maxErrors), errorPercent);
    }
    catch (FormatException e)
    {
        Console.Error.WriteLine(e.Message);
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
        Shape = loadShape,
        Warmup = loadShape is null ? TimeSpan.FromSeconds(result.GetValue(warmup)) : TimeSpan.Zero,
        Duration = loadShape?.Duration ?? TimeSpan.FromSeconds(result.GetValue(duration)),
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

    var judged = thresholds.Evaluate(outcome);
    var markdown = MarkdownReport.Write(outcome, plotFile is null ? null : Path.GetFileName(plotFile), judged);
    var summary = LoadSummary.Of(outcome, judged);
    if (result.GetValue(json) == "-")
    {
        Console.WriteLine(summary.ToJson());
    }
    else
    {
        Console.WriteLine(markdown);
        if (result.GetValue(json) is { } jsonFile)
        {
            File.WriteAllText(jsonFile, summary.ToJson());
        }
    }

    if (result.GetValue(report) is { } reportFile)
    {
        File.WriteAllText(reportFile, markdown);
    }

    if (result.GetValue(html) is { } htmlFile)
    {
        File.WriteAllText(htmlFile, HtmlReport.Write(outcome, judged));
    }

    if (result.GetValue(csv) is { } csvFile)
    {
        File.WriteAllText(csvFile, CsvReport.Write(outcome));
    }

    foreach (var failed in judged.Where(t => !t.Passed))
    {
        Console.Error.WriteLine($"threshold {failed.Name}: {failed.Describe()}");
    }

    // As a shell reports a run stopped by SIGINT: a script must not take a cut-short run for a whole one.
    return outcome.VerificationFailureCount > 0 ? 3
        : judged.Any(t => !t.Passed) ? 1
        : outcome.Errors > 0 && !thresholds.JudgesErrors ? 4
        : outcome.Interrupted ? 130
        : 0;
});
return await root.Parse(args).InvokeAsync();
