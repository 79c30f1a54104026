using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

public class ServeCommandTests
{
    [Fact]
    public async Task Serve_with_no_config_serves_an_encrypted_volume_that_survives_a_restart()
    {
        using var temp = new TempDirectory();
        var directory = temp.Path;
        var data = new byte[65536];
        new Random(5).NextBytes(data);
        await using (var daemon = DaemonProcess.Start(directory, "serve", "--listen", "127.0.0.1:0"))
        {
            var port = await daemon.PortAsync();
            await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" }))
            {
                Assert.Equal(1L << 30, client.Size);
                await client.WriteAsync(1 << 20, data);
                await client.FlushAsync();
            }

            // The default Unix socket lives in the data directory, and serves the same export.
            var socket = Path.Combine(directory, "blocksim-data", "nbd.sock");
            await using (var unix = await NbdClient.ConnectUnixAsync(socket))
            {
                Assert.Equal(1L << 30, unix.Size);
            }

            Assert.Equal(0, await daemon.InterruptAsync());
            Assert.Contains("sealed by the key file", daemon.Output); // it says plainly what protects the data
            Assert.Contains("Attached volume", daemon.Output);
            Assert.False(File.Exists(socket));
        }

        var volume = Path.Combine(directory, "blocksim-data", "volumes", "default.vol");
        Assert.True(File.Exists(volume));
        Assert.Equal(-1, File.ReadAllBytes(volume).AsSpan().IndexOf(data.AsSpan(0, 64))); // ciphertext only

        await using (var again = DaemonProcess.Start(directory, "serve", "--listen", "127.0.0.1:0"))
        {
            var port = await again.PortAsync();
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
            var back = new byte[data.Length];
            await client.ReadAsync(1 << 20, back);
            Assert.Equal(data, back);
        }
    }

    [Theory]
    [InlineData(false, "not encrypted, lost when blocksim stops")]
    [InlineData(true, "encrypted under a key that exists only in this process")]
    public async Task Serve_memory_serves_an_in_memory_export_encrypted_on_request(bool encrypted, string logged)
    {
        using var temp = new TempDirectory();
        string[] arguments = ["serve", "--memory", "--size", "8M", "--listen", "127.0.0.1:0", "--socket", "none", .. encrypted ? new[] { "--encrypted" } : []];
        await using var daemon = DaemonProcess.Start(temp.Path, arguments);
        var port = await daemon.PortAsync();
        var data = new byte[3 * 4096 + 512];
        new Random(9).NextBytes(data);
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" }))
        {
            Assert.Equal(8L << 20, client.Size);
            await client.WriteAsync(4096 + 512, data); // crosses sectors, partly: read-modify-write under encryption
            var back = new byte[data.Length + 1024];
            await client.ReadAsync(4096, back);
            Assert.Equal(new byte[512], back[..512]);
            Assert.Equal(data, back[512..^512]);
            Assert.Equal(new byte[512], back[^512..]);
        }

        Assert.Equal(0, await daemon.InterruptAsync());
        Assert.Contains(logged, daemon.Output);
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "blocksim-data", "volumes"))); // nothing written to disk
    }

    [Fact]
    public async Task Encrypted_without_memory_is_a_usage_error()
    {
        using var temp = new TempDirectory();
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--encrypted", "--socket", "none");
        Assert.Equal(2, await daemon.WaitForExitAsync());
        Assert.Contains("--encrypted goes with --memory", daemon.Output);
    }

    [Theory]
    [InlineData("--listen", "localhost")]
    [InlineData("--size", "12Q")]
    [InlineData("--size", "1000")]
    [InlineData("--size", "4097")]
    public async Task Bad_arguments_are_usage_errors_with_a_hint(string option, string value)
    {
        using var temp = new TempDirectory();
        var directory = temp.Path;
        await using var daemon = DaemonProcess.Start(directory, "serve", option, value, "--socket", "none");
        Assert.Equal(2, await daemon.WaitForExitAsync());
        Assert.Contains(option, daemon.Output);
        Assert.Contains("e.g.", daemon.Output);
    }

    [Fact]
    public async Task A_second_daemon_on_a_used_address_or_a_live_socket_fails_naming_it()
    {
        using var temp = new TempDirectory();
        var socket = temp.File("nbd.sock");
        await using var first = DaemonProcess.Start(temp.Path, "serve", "--memory", "--size", "4M", "--listen", "127.0.0.1:0", "--socket", socket);
        var port = await first.PortAsync();

        await using (var second = DaemonProcess.Start(temp.Path, "serve", "--memory", "--size", "4M", "--listen", $"127.0.0.1:{port}", "--socket", "none"))
        {
            Assert.NotEqual(0, await second.WaitForExitAsync());
            Assert.Contains($"127.0.0.1:{port}", second.Output);
            Assert.DoesNotContain("   at ", second.Output); // a message, not a stack trace
        }

        await using (var third = DaemonProcess.Start(temp.Path, "serve", "--memory", "--size", "4M", "--listen", "127.0.0.1:0", "--socket", socket))
        {
            Assert.NotEqual(0, await third.WaitForExitAsync());
            Assert.Contains(socket, third.Output);
            Assert.DoesNotContain("   at ", third.Output);
        }

        // The first daemon still has both.
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" }))
        {
            await client.FlushAsync();
        }

        await using (var unix = await NbdClient.ConnectUnixAsync(socket))
        {
            await unix.FlushAsync();
        }

        Assert.Equal(0, await first.InterruptAsync());
    }

    [Fact]
    public async Task Info_reports_the_xts_tier_and_a_bad_tier_request_is_refused()
    {
        using var temp = new TempDirectory();
        var directory = temp.Path;
        await using (var info = DaemonProcess.Start(directory, "info"))
        {
            Assert.Equal(0, await info.WaitForExitAsync());
            Assert.Matches(@"xts tier: (Vaes512|Vaes256x|Vaes256|AesNi|Software)", info.Output);
        }
    }
}
