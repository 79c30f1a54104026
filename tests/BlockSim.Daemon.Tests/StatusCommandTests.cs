using System.Text.Json;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary><c>blocksim status</c>: a running daemon's exports with their clients, its listeners and tier, from its admin socket.</summary>
public class StatusCommandTests
{
    [Fact]
    public async Task Status_shows_each_export_with_its_clients_and_every_connection()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "db", "--size", "16M")).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "logs", "--size", "32M")).Exit);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0");
        var port = await daemon.PortAsync();
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "logs" });

        var (exit, standardOutput, output) = await Cli.RunApartAsync(temp.Path, "--json", "status");
        Assert.True(exit == 0, output);
        var status = JsonDocument.Parse(standardOutput).RootElement;
        Assert.Equal(daemon.Id, status.GetProperty("pid").GetInt32());
        Assert.Contains(status.GetProperty("listeners").EnumerateArray(), l => l.GetProperty("address").GetString() == $"127.0.0.1:{port}" && l.GetProperty("tls").GetString() == "off");
        var exports = status.GetProperty("exports").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        Assert.Equal(1, exports["logs"].GetProperty("clients").GetInt32());
        Assert.Equal(0, exports["db"].GetProperty("clients").GetInt32());
        Assert.Equal(32L << 20, exports["logs"].GetProperty("size").GetInt64());
        var connection = Assert.Single(status.GetProperty("connections").EnumerateArray());
        Assert.Equal("logs", connection.GetProperty("export").GetString());
        Assert.Equal("anonymous", connection.GetProperty("client").GetString());
        Assert.StartsWith("open: ", status.GetProperty("keyStore").GetString());

        var human = (await Cli.RunApartAsync(temp.Path, "status")).StandardOutput;
        Assert.Matches(@"(?m)^logs +32 MiB +read-write +1  ", human);
        Assert.Matches(@"(?m)^ +\d+  anonymous +127\.0\.0\.1 +no +logs$", human);
    }

    [Fact]
    public async Task Status_without_a_daemon_is_not_found_and_says_where_it_looked()
    {
        using var temp = new TempDirectory();
        var (exit, output) = await Cli.RunAsync(temp.Path, "status");
        Assert.Equal(3, exit);
        Assert.Contains($"No daemon answers on {temp.File("blocksim-data/admin.sock")}: status reports on a running daemon", output);
    }
}
