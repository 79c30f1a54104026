using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using BlockSim.Daemon.Metrics;
using BlockSim.Nbd.Server;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The metrics endpoint's text: each instrument kind by what it is, not by its number type (a double counter
/// is a counter, a double gauge a gauge, a long histogram a histogram); bucket bounds written as numbers
/// Prometheus reads back exactly; the runtime's meter, the standard process_* metrics and blocksim_build_info.
/// </summary>
public partial class PrometheusExporterTests
{
    [Fact]
    public void Every_kind_of_instrument_is_written_as_its_kind_whatever_its_number_type()
    {
        using var exporter = new PrometheusExporter();
        using var meter = new Meter(NbdMetrics.MeterName); // a meter the exporter listens to
        var id = Guid.NewGuid().ToString("N")[..8];
        meter.CreateCounter<double>($"blocksim.test{id}.energy", "J", "A double counter.").Add(1.5);
        meter.CreateUpDownCounter<long>($"blocksim.test{id}.queue").Add(3);
        var gauge = meter.CreateGauge<double>($"blocksim.test{id}.temperature");
        gauge.Record(20.5);
        gauge.Record(21.25); // a reading replaces the last
        meter.CreateObservableGauge($"blocksim.test{id}.ratio", () => 0.25);
        var latency = meter.CreateHistogram<double>($"blocksim.test{id}.latency", "s");
        latency.Record(0.000003);
        latency.Record(0.000007);
        var sizes = meter.CreateHistogram<long>($"blocksim.test{id}.size", "By", advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [512, 4096] });
        sizes.Record(4096);
        sizes.Record(100_000);

        var text = exporter.Scrape();
        Assert.Contains($"# TYPE blocksim_test{id}_energy_total counter\nblocksim_test{id}_energy_total 1.5\n", text);
        Assert.Contains($"# TYPE blocksim_test{id}_queue gauge\nblocksim_test{id}_queue 3\n", text);
        Assert.Contains($"# TYPE blocksim_test{id}_temperature gauge\nblocksim_test{id}_temperature 21.25\n", text);
        Assert.Contains($"blocksim_test{id}_ratio 0.25\n", text);
        Assert.Contains($"# TYPE blocksim_test{id}_latency_seconds histogram\n", text);
        Assert.Contains($"blocksim_test{id}_latency_seconds_bucket{{le=\"5e-06\"}} 1\n", text); // 5 µs, not "0.00001"
        Assert.Contains($"blocksim_test{id}_latency_seconds_bucket{{le=\"1e-05\"}} 2\n", text);
        Assert.Contains($"blocksim_test{id}_latency_seconds_count 2\n", text);
        Assert.Contains($"blocksim_test{id}_size_bytes_bucket{{le=\"4096\"}} 1\n", text); // its own bounds
        Assert.Contains($"blocksim_test{id}_size_bytes_bucket{{le=\"+Inf\"}} 2\n", text);
        Assert.Contains($"blocksim_test{id}_size_bytes_sum 104096\n", text);
    }

    [Fact]
    public void The_runtime_process_and_build_metrics_are_there_and_every_line_is_well_formed()
    {
        using var exporter = new PrometheusExporter();
        var text = exporter.Scrape();
        Assert.Contains("# TYPE dotnet_gc_collections_total counter", text); // System.Runtime
        Assert.Matches(@"blocksim_build_info\{version=""[^""]+"",runtime=""[^""]+"",xts_tier=""\w+""\} 1", text);
        Assert.Matches(@"(?m)^process_cpu_seconds_total [\d.e+-]+$", text);
        Assert.Matches(@"(?m)^process_resident_memory_bytes [1-9]", text);
        Assert.Matches(@"(?m)^process_open_fds [1-9]", text);
        Assert.Matches(@"(?m)^process_start_time_seconds 1\d{9}", text);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')))
        {
            Assert.Matches(SampleLine(), line);
        }

        var names = text.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToList();
        Assert.Equal(names.Count, names.Distinct().Count()); // each family once
    }

    [Theory]
    [InlineData("GET /metrics HTTP/1.1", "HTTP/1.1 200 OK", true)]
    [InlineData("GET /metrics?x=1 HTTP/1.1", "HTTP/1.1 200 OK", true)]
    [InlineData("HEAD /metrics HTTP/1.1", "HTTP/1.1 200 OK", false)]
    [InlineData("POST /metrics HTTP/1.1", "HTTP/1.1 405 Method Not Allowed", true)]
    [InlineData("GET /other HTTP/1.1", "HTTP/1.1 404 Not Found", true)]
    [InlineData("nonsense", "HTTP/1.1 400 Bad Request", true)]
    public async Task The_endpoint_answers_as_http_says(string requestLine, string statusLine, bool hasBody)
    {
        await using var endpoint = new MetricsEndpoint(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0), new PrometheusExporter());
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint.Endpoint);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"{requestLine}\r\nHost: localhost\r\n\r\n"));
        var answer = new System.Text.StringBuilder();
        var buffer = new byte[65536];
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            answer.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, read));
        }

        var text = answer.ToString();
        Assert.StartsWith(statusLine + "\r\n", text);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var length = int.Parse(Regex.Match(text[..split], @"Content-Length: (\d+)").Groups[1].Value);
        Assert.True(length > 0);
        Assert.Equal(hasBody ? length : 0, System.Text.Encoding.UTF8.GetByteCount(text[(split + 4)..])); // HEAD: the length of what GET would send, and nothing
        Assert.Equal(statusLine.Contains("405", StringComparison.Ordinal), text[..split].Contains("Allow: GET, HEAD", StringComparison.Ordinal));
    }

    /// <summary>A sample line of the text format: a name, optional labels, and a Go-parsable float.</summary>
    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=""([^""\\]|\\.)*"",?)*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|NaN|[+-]Inf)$")]
    private static partial Regex SampleLine();
}
