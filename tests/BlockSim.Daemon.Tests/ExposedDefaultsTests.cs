using System.Diagnostics;
using System.Net;
using BlockSim.Daemon.Service;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// What a daemon started with no limits configured does against one noisy address: it connects and
/// attaches in a loop (a reviewer measured 296 attaches a second) and leaves sockets in the handshake;
/// and what the limits section of the configuration file changes.
/// </summary>
public class ExposedDefaultsTests
{
    private static readonly IPAddress s_noisy = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task By_default_one_address_attaching_in_a_loop_is_held_to_its_rate_and_others_get_in()
    {
        using var temp = new TempDirectory();
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--memory", "--size", "8M", "--listen", "127.0.0.1:0", "--socket", "none");
        var port = await daemon.PortAsync();

        var clock = Stopwatch.StartNew();
        var attached = 0;
        for (var i = 0; i < 300; i++)
        {
            attached += await RawAttach.TryGoAsync(port, s_noisy) ? 1 : 0;
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var limits = new LimitSettings();
        Assert.InRange(attached, limits.ConnectionBurstPerAddress, limits.ConnectionBurstPerAddress + (int)(limits.ConnectionsPerSecondPerAddress * seconds) + 2);

        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" }))
        {
            await client.FlushAsync(); // another address is not held back
        }

        Assert.Equal(0, await daemon.InterruptAsync());
        var refusals = daemon.Output.Split('\n').Count(l => l.Contains("connects too fast", StringComparison.Ordinal));
        Assert.InRange(refusals, 1, 2 + (int)(seconds / 10)); // a line per 10 s, not per refused connection
    }

    [Fact]
    public void The_defaults_suit_an_exposed_daemon_and_the_kernel_client()
    {
        var defaults = new LimitSettings().ToServerOptions();
        Assert.Equal(8, defaults.MaxHandshakesPerAddress);
        Assert.Equal(20, defaults.ConnectionsPerSecondPerAddress);
        Assert.Equal(64, defaults.ConnectionBurstPerAddress); // as many as one address may hold: nbd-client -C 64 still connects
        Assert.Equal(TimeSpan.FromMinutes(5), defaults.ReclaimIdleAfter);
        Assert.Equal(TimeSpan.Zero, defaults.IdleTimeout); // a mounted, idle disk sends nothing: never cut it off for that alone
    }

    [Fact]
    public void The_sample_configuration_in_deploy_states_the_defaults()
    {
        var sample = DaemonOptions.Load(RepositoryFiles.Path("deploy", "blocksim.example.json"));
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(new LimitSettings()), System.Text.Json.JsonSerializer.Serialize(sample.Limits));
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(new AuditSettings()), System.Text.Json.JsonSerializer.Serialize(sample.Audit));
    }

    [Fact]
    public void The_limits_section_sets_each_limit()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), """
            { "limits": { "maxHandshakesPerAddress": 2, "connectionsPerSecondPerAddress": 0.5, "connectionBurstPerAddress": 3,
                          "reclaimIdleAfterSeconds": 0, "idleTimeoutSeconds": 3600 } }
            """);
        var options = DaemonOptions.Load(temp.File("blocksim.json")).Limits.ToServerOptions();
        Assert.Equal(2, options.MaxHandshakesPerAddress);
        Assert.Equal(0.5, options.ConnectionsPerSecondPerAddress);
        Assert.Equal(3, options.ConnectionBurstPerAddress);
        Assert.Equal(TimeSpan.Zero, options.ReclaimIdleAfter);
        Assert.Equal(TimeSpan.FromHours(1), options.IdleTimeout);
    }

    [Theory]
    [InlineData("""{ "limits": { "maxHandshakesPerAddress": 0 } }""", "limits.maxHandshakesPerAddress 0: give 1 to")]
    [InlineData("""{ "limits": { "connectionsPerSecondPerAddress": -1 } }""", "limits.connectionsPerSecondPerAddress -1: give 0 (no limit) to")]
    [InlineData("""{ "limits": { "connectionBurstPerAddress": 0 } }""", "limits.connectionBurstPerAddress 0: give 1 to")]
    [InlineData("""{ "limits": { "reclaimIdleAfterSeconds": 1e30 } }""", "limits.reclaimIdleAfterSeconds 1E+30: give 0 (never) to")]
    public void A_limit_out_of_range_is_a_configuration_problem_that_names_it(string json, string expected)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), json);
        Assert.Contains(expected, Assert.Throws<ConfigurationProblem>(() => DaemonOptions.Load(temp.File("blocksim.json")).Limits.ToServerOptions()).Message);
    }
}
