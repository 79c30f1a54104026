using System.Globalization;
using System.Net.Sockets;
using System.Text;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The control API is on the admin socket only, never on TCP: the daemon listens on no TCP port but its
/// NBD one, and that port answers HTTP with the NBD greeting, not with the API. Read from the kernel's own
/// tables (/proc/PID/fd and /proc/net/tcp*), so a listener the code forgot about is seen too.
/// </summary>
public class ControlApiReachTests
{
    [Fact]
    public async Task The_daemon_listens_on_TCP_only_for_NBD_and_its_control_api_is_on_the_unix_socket()
    {
        using var temp = new TempDirectory();
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M");

        var listening = ListeningTcpPorts(daemon.Process.Id);
        Assert.Equal([daemon.Port], listening);
        Assert.Contains(File.ReadLines("/proc/net/unix"), line => line.EndsWith(" " + daemon.Control, StringComparison.Ordinal));
        Assert.Equal(0, (await daemon.SimAsync("show", "default")).Exit); // the socket is the API

        var answer = await AskOverTcp(daemon.Port, "GET /v1/exports/default/simulation HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("NBDMAGIC", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("HTTP/", answer, StringComparison.Ordinal);
    }

    /// <summary>The TCP ports (v4 and v6) in LISTEN state on sockets that process <paramref name="pid"/> holds open.</summary>
    private static List<int> ListeningTcpPorts(int pid)
    {
        var inodes = new HashSet<string>();
        foreach (var fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    inodes.Add(target[8..^1]);
                }
            }
            catch (IOException)
            {
                // closed while listed
            }
        }

        const string Listen = "0A";
        return new[] { "/proc/net/tcp", "/proc/net/tcp6" }
            .Where(File.Exists)
            .SelectMany(table => File.ReadLines(table).Skip(1))
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields[3] == Listen && inodes.Contains(fields[9]))
            .Select(fields => int.Parse(fields[1][(fields[1].LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture))
            .Distinct()
            .Order()
            .ToList();
    }

    private static async Task<string> AskOverTcp(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var buffer = new byte[4096];
        var read = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int n;
            while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), timeout.Token)) > 0)
            {
                read += n;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // the server closes (or resets) on bytes that are not NBD: what came before is the answer
        }

        return Encoding.Latin1.GetString(buffer, 0, read);
    }
}
