using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>The daemon as a service: systemd readiness, graceful SIGTERM, Prometheus metrics.</summary>
public partial class ServiceTests
{
    [Fact]
    public async Task It_tells_systemd_when_it_is_ready_and_when_it_stops()
    {
        using var temp = new TempDirectory();
        var notifyPath = temp.File("notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        await using var daemon = DaemonProcess.Start(temp.Path, new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifyPath }, "serve", "--listen", "127.0.0.1:0", "--socket", "none");

        var ready = await ReceiveAsync(notify);
        Assert.StartsWith("READY=1", ready);
        Assert.Contains("STATUS=serving default", ready);
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", await daemon.PortAsync()))
        {
            await client.FlushAsync(); // READY came once the listeners were bound: a client gets in at once
        }

        Assert.Equal(0, await daemon.InterruptAsync("TERM"));
        Assert.Equal("STOPPING=1", await ReceiveAsync(notify));
        Assert.Contains("Stopped: exports flushed, volume keys zeroed", daemon.Output);
    }

    [Fact]
    public async Task Sigterm_answers_the_write_in_flight_and_keeps_it()
    {
        using var temp = new TempDirectory();
        var data = Enumerable.Repeat((byte)0x5A, 4096).ToArray();
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none", "--latency-ms", "1500"))
        {
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", await daemon.PortAsync());
            var write = client.WriteAsync(0, data);
            await Task.Delay(300); // the write is now waiting in the simulated disk
            await daemon.SignalAsync("TERM");
            await write; // answered, not dropped
            Assert.Equal(0, await daemon.WaitForExitAsync());
        }

        await using (var again = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", await again.PortAsync());
            var back = new byte[4096];
            await client.ReadAsync(0, back);
            Assert.Equal(data, back);
        }
    }

    [Fact]
    public async Task Metrics_count_requests_bytes_and_key_store_calls()
    {
        using var temp = new TempDirectory();
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none", "--metrics", "127.0.0.1:0");
        var port = await daemon.PortAsync();
        await daemon.WaitForOutputAsync("/metrics");
        var metricsPort = int.Parse(MetricsLine().Match(daemon.Output).Groups[1].Value);
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port))
        {
            for (var i = 0; i < 5; i++)
            {
                await client.WriteAsync((ulong)i * 8192, new byte[8192]);
            }

            await client.ReadAsync(0, new byte[4096]);
        }

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };
        var text = await http.GetStringAsync("/metrics");
        Assert.Contains("blocksim_nbd_requests_total{export=\"default\",command=\"write\"} 5\n", text);
        Assert.Contains("blocksim_nbd_bytes_total{export=\"default\",direction=\"write\"} 40960\n", text);
        Assert.Contains("blocksim_nbd_bytes_total{export=\"default\",direction=\"read\"} 4096\n", text);
        Assert.Contains("blocksim_nbd_request_duration_seconds_count{export=\"default\",command=\"write\"} 5\n", text);
        Assert.Contains("blocksim_keystore_requests_total{operation=\"Decrypt\",outcome=\"ok\"} 1\n", text);
        Assert.Matches(@"blocksim_process_working_set_bytes [1-9]\d+", text);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/other")).StatusCode);
    }

    [Fact]
    public async Task Metrics_listen_on_loopback_only()
    {
        using var temp = new TempDirectory();
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none", "--metrics", "0.0.0.0:0");
        Assert.Equal(2, await daemon.WaitForExitAsync());
        Assert.Contains("loopback only", daemon.Output);
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:(\d+)/metrics")]
    private static partial Regex MetricsLine();
}
