using BlockSim.Nbd.Client;
using BlockSim.Nbd.Protocol;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary><c>serve --config</c>: named exports, read-only, in-memory, per-export simulation, environment overrides.</summary>
public class ConfigurationTests
{
    private const string Config = """
        {
          "listen": ["127.0.0.1:0"],
          "socket": "none",
          "defaultExport": "db",
          "exports": {
            "db": { "description": "database disk" },
            "archive": { "volume": "logs", "readOnly": true },
            "scratch": { "memory": true, "size": "8M", "simulation": { "failWrites": 1 } },
            "vault": { "memory": true, "encrypted": true, "size": "4M" }
          }
        }
        """;

    [Fact]
    public async Task A_config_file_serves_exactly_its_exports_with_their_settings()
    {
        using var temp = await WithVolumesAsync("db", "logs");
        File.WriteAllText(temp.File("blocksim.json"), Config);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json");
        var port = await daemon.PortAsync();

        await using (var db = await Connect(port, "")) // the configured default export
        {
            Assert.Equal(4L << 20, db.Size);
        }

        using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
        {
            await socket.ConnectAsync("127.0.0.1", port);
            var list = await NbdClient.ListAsync(new System.Net.Sockets.NetworkStream(socket));
            Assert.Equal([("archive", "encrypted volume"), ("db", "database disk"), ("scratch", "in-memory export (not persistent, not encrypted)"), ("vault", "in-memory export (not persistent, encrypted under a key that exists only in this process)")], list.Select(e => (e.Name, e.Description.StartsWith("encrypted volume", StringComparison.Ordinal) ? "encrypted volume" : e.Description)).ToArray());
        }

        await using (var archive = await Connect(port, "archive"))
        {
            Assert.True(archive.Flags.HasFlag(NbdTransmissionFlags.ReadOnly));
            var refused = await Assert.ThrowsAsync<NbdClientException>(() => archive.WriteAsync(0, new byte[512]));
            Assert.Equal(NbdError.NotPermitted, refused.Error);
            await archive.ReadAsync(0, new byte[512]);
        }

        await using (var scratch = await Connect(port, "scratch"))
        {
            Assert.Equal(8L << 20, scratch.Size);
            Assert.Equal(NbdError.IO, (await Assert.ThrowsAsync<NbdClientException>(() => scratch.WriteAsync(0, new byte[512]))).Error);
        }

        await using (var vault = await Connect(port, "vault"))
        {
            var data = new byte[8192];
            new Random(3).NextBytes(data);
            await vault.WriteAsync(4096, data);
            var back = new byte[data.Length];
            await vault.ReadAsync(4096, back);
            Assert.Equal(data, back);
        }

        await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "logs")); // only configured names are served
        Assert.False(File.Exists(Path.Combine(temp.Path, "blocksim-data", "volumes", "default.vol")));
        Assert.Equal(0, await daemon.InterruptAsync());
    }

    [Fact]
    public async Task Environment_variables_override_the_file()
    {
        using var temp = await WithVolumesAsync("db", "logs");
        File.WriteAllText(temp.File("blocksim.json"), Config);
        var environment = new Dictionary<string, string> { ["BLOCKSIM__Exports__db__ReadOnly"] = "true" };
        await using var daemon = DaemonProcess.Start(temp.Path, environment, "serve", "--config", "blocksim.json");
        await using var db = await Connect(await daemon.PortAsync(), "db");
        Assert.True(db.Flags.HasFlag(NbdTransmissionFlags.ReadOnly));
    }

    [Theory]
    [InlineData("""{ "exports": { "db": { "readOnlyy": true } } }""", "readOnlyy")]
    [InlineData("""{ "exports": { "db": { "volume": "nope" } } }""", "blocksim volume create nope")]
    [InlineData("""{ "exports": { "m": { "memory": true } } }""", "needs a size")]
    [InlineData("""{ "exports": { "a": { "volume": "db" }, "b": { "volume": "db", "readOnly": true } } }""", "both serve the volume 'db'")]
    [InlineData("""{ "exports": { "db": { "encrypted": false } } }""", "a volume is always encrypted")]
    [InlineData("""{ "exports": { "db": { "simulation": { "failReads": 2 } } } }""", "exports.db.simulation.failReads 2: give 0 to 1")]
    [InlineData("""{ "defaultExport": "x", "exports": { "db": {} } }""", "default export 'x'")]
    [InlineData("""{ "listen": [ "localhost" ] }""", "give ADDR:PORT")]
    [InlineData("""{ "limits": { "maxConnectionsPerAddress": 0 } }""", "limits.maxConnectionsPerAddress 0: give 1 to 1048576")]
    [InlineData("""{ "limits": { "maxMemory": "1M" } }""", "limits.maxMemory 1M: give 64M to 64T")]
    [InlineData("""{ "exports": """, "blocksim.json line 1, column 14: this is not well-formed JSON")]
    [InlineData("""{ "limits": { "maxConection": 5 } }""", "blocksim.json: limits.maxConection: there is no such setting. Did you mean 'maxConnections'?")]
    [InlineData("""{ "exports": { "db": { "memroy": true } } }""", "exports.db.memroy: there is no such setting. Did you mean 'memory'? 'exports.db' has: volume, memory,")]
    [InlineData("""{ "lisen": [ "127.0.0.1:0" ] }""", "lisen: there is no such setting. Did you mean 'listen'? The top level has: dataDir,")]
    [InlineData("""{ "ceph": { "conf": "missing.conf" } }""", "missing.conf: no such file")]
    [InlineData("""{ "ceph": { "client": "admin" } }""", "ceph.client admin: give a Ceph client name, client.ID")]
    [InlineData("""{ "exports": { "db": { "volume": "rbd:rbd" } } }""", "write rbd:POOL/IMAGE")]
    [InlineData("""{ "exports": { "db": { "volume": "rbd:rbd/a@snap" } } }""", "snapshots are not volumes")]
    public async Task A_bad_configuration_is_a_usage_error_that_names_the_problem(string json, string expected)
    {
        using var temp = await WithVolumesAsync("db");
        File.WriteAllText(temp.File("blocksim.json"), json);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json", "--socket", "none");
        Assert.Equal(2, await daemon.WaitForExitAsync());
        Assert.Contains(expected, daemon.Output);
    }

    [Theory]
    [InlineData("""{ }""", true)]
    [InlineData("""{ "limits": { "inlineTransmission": false } }""", false)]
    public void Inline_transmission_is_on_unless_the_limits_turn_it_off(string json, bool expected)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), json);
        var options = BlockSim.Daemon.Service.DaemonOptions.Load(temp.File("blocksim.json"));
        Assert.Equal(expected, options.Limits.ToServerOptions().InlineTransmission);
    }

    [Theory]
    [InlineData("""{ }""", -1L)]
    [InlineData("""{ "limits": { "maxMemory": "2G" } }""", 2L << 30)]
    public void The_server_memory_budget_is_a_quarter_of_memory_unless_the_limits_give_one(string json, long expected)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), json);
        var options = BlockSim.Daemon.Service.DaemonOptions.Load(temp.File("blocksim.json"));
        var quarter = Math.Max(256L << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);
        Assert.Equal(expected < 0 ? quarter : expected, options.Limits.ToServerOptions().MaxMemory);
    }

    [Fact]
    public void The_sample_configuration_in_deploy_is_valid()
    {
        var options = BlockSim.Daemon.Service.DaemonOptions.Load(RepositoryFiles.Path("deploy", "blocksim.example.json"));
        Assert.Equal(["default", "golden", "scratch", "slowdisk"], options.Exports.Keys.Order(StringComparer.Ordinal).ToArray());
        Assert.True(options.Exports["golden"].ReadOnly);
        Assert.True(options.Exports["slowdisk"].Simulation!.VolatileCache);
        Assert.All(options.Exports.Values, e => Assert.Null((e.Simulation ?? options.Simulation).Problem("sample")));
        Assert.Equal("127.0.0.1:9187", options.Metrics);
    }

    [Fact]
    public void The_sample_unit_file_waits_for_readiness_and_stops_with_sigterm()
    {
        var unit = File.ReadAllText(RepositoryFiles.Path("deploy", "blocksim.service"));
        Assert.Contains("Type=notify\n", unit);
        Assert.Contains("KillSignal=SIGTERM\n", unit);
        Assert.Contains("ExecStart=/usr/local/bin/blocksim serve --config /etc/blocksim/blocksim.json\n", unit);
    }

    [Fact]
    public void The_sample_unit_file_writes_no_core_files_and_allows_only_a_services_system_calls()
    {
        // Regression: a crash of the daemon could write its memory, volume keys included, to a core file.
        var lines = File.ReadAllLines(RepositoryFiles.Path("deploy", "blocksim.service"));
        Assert.Contains("LimitCORE=0", lines);
        Assert.Contains("SystemCallFilter=@system-service", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("SystemCallFilter=~", StringComparison.Ordinal)); // nothing taken back out
    }

    private static async Task<TempDirectory> WithVolumesAsync(params string[] names)
    {
        var temp = new TempDirectory();
        foreach (var name in names)
        {
            await using var create = DaemonProcess.Start(temp.Path, "volume", "create", name, "--size", "4M");
            Assert.Equal(0, await create.WaitForExitAsync());
        }

        return temp;
    }

    private static Task<NbdClient> Connect(int port, string export) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = export });
}
