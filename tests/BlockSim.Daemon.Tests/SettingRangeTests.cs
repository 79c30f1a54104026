using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// Every numeric setting, in the configuration file, the environment or on the command line, is checked
/// before anything is created: a value out of range is a usage error (2) that names the setting, the value
/// given and what to give. A reviewer's <c>idleTimeoutSeconds: 1e30</c> ended in an internal error after
/// the key store and the volume <c>default</c> had been created.
/// </summary>
public class SettingRangeTests
{
    [Theory]
    [InlineData("""{ "limits": { "idleTimeoutSeconds": 1e30 } }""", "limits.idleTimeoutSeconds 1E+30: give 0 (never) to 2592000 seconds")]
    [InlineData("""{ "limits": { "idleTimeoutSeconds": -1 } }""", "limits.idleTimeoutSeconds -1: give 0 (never) to 2592000 seconds")]
    [InlineData("""{ "limits": { "idleTimeoutSeconds": "NaN" } }""", "limits.idleTimeoutSeconds NaN: give 0 (never) to 2592000 seconds")]
    [InlineData("""{ "limits": { "handshakeTimeoutSeconds": 0 } }""", "limits.handshakeTimeoutSeconds 0: give 0.1 to 3600 seconds")]
    [InlineData("""{ "limits": { "handshakeTimeoutSeconds": "Infinity" } }""", "limits.handshakeTimeoutSeconds Infinity: give 0.1 to 3600 seconds")]
    [InlineData("""{ "limits": { "inlineSpinMicroseconds": "NaN" } }""", "limits.inlineSpinMicroseconds NaN: give 0 to 1000000 microseconds")]
    [InlineData("""{ "limits": { "maxConnections": 0 } }""", "limits.maxConnections 0: give 1 to 1048576")]
    [InlineData("""{ "limits": { "maxConnectionsPerAddress": -3 } }""", "limits.maxConnectionsPerAddress -3: give 1 to 1048576")]
    [InlineData("""{ "limits": { "maxInFlightRequests": 100000000 } }""", "limits.maxInFlightRequests 100000000: give 1 to 65536")]
    [InlineData("""{ "limits": { "maxInFlightBytes": "1K" } }""", "limits.maxInFlightBytes 1K: give 1M to 16G")]
    [InlineData("""{ "limits": { "maxInFlightBytes": "1Q" } }""", "limits.maxInFlightBytes 1Q: give 1M to 16G")]
    [InlineData("""{ "limits": { "maxMemory": "100T" } }""", "limits.maxMemory 100T: give 64M to 64T")]
    [InlineData("""{ "limits": { "maxConnections": 99999999999 } }""", "limits.maxConnections 99999999999: give 1 to 1048576")]
    [InlineData("""{ "exports": { "m": { "memory": true, "size": "4M", "readOnly": "maybe" } } }""", "exports.m.readOnly maybe: give true or false")]
    [InlineData("""{ "simulation": { "latencyMs": 1e30 } }""", "simulation.latencyMs 1E+30: give 0 to 3600000 milliseconds")]
    [InlineData("""{ "simulation": { "jitterMs": -1 } }""", "simulation.jitterMs -1: give 0 to 3600000 milliseconds")]
    [InlineData("""{ "simulation": { "failReads": "NaN" } }""", "simulation.failReads NaN: give 0 to 1")]
    [InlineData("""{ "simulation": { "failWrites": 2 } }""", "simulation.failWrites 2: give 0 to 1")]
    [InlineData("""{ "simulation": { "iops": -5 } }""", "simulation.iops -5: give 0 (no limit) to 10000000")]
    [InlineData("""{ "simulation": { "bandwidth": "0" } }""", "simulation.bandwidth 0: give 1 to 1T bytes per second")]
    [InlineData("""{ "exports": { "m": { "memory": true, "size": "4M", "simulation": { "latencyMs": "NaN" } } } }""", "exports.m.simulation.latencyMs NaN: give 0 to 3600000 milliseconds")]
    [InlineData("""{ "exports": { "m": { "memory": true, "size": "8000000T" } } }""", "exports.m.size 8000000T: give 4K to 64T")]
    [InlineData("""{ "exports": { "m": { "memory": true, "size": "5000" } } }""", "exports.m.size 5000: give 4K to 64T")]
    [InlineData("""{ "defaultSize": "1Q" }""", "defaultSize 1Q: give a positive multiple of 4096 bytes")]
    [InlineData("""{ "exports": { "default": { "size": "5G" } } }""", "exports.default.size 5G: only a memory export (\"memory\": true) takes a size")]
    [InlineData("""{ "tls": { "certificate": "missing.pem", "key": "missing.pem" } }""", "tls: The TLS certificate")]
    [InlineData("""{ "dataDir": "blocksim.json" }""", "is a file: give a directory")]
    [InlineData("""{ "listen": [ "127.0.0.1:99999" ] }""", "listen 127.0.0.1:99999: give ADDR:PORT with a port from 0 to 65535")]
    [InlineData("""{ "metrics": "127.0.0.1:70000" }""", "metrics 127.0.0.1:70000: give ADDR:PORT with a port from 0 to 65535")]
    // Found by the configuration-shaped fuzz target: the binder gives null for {}, [] or null where text belongs.
    [InlineData("""{ "defaultSize": {} }""", "defaultSize (no value: empty, an object, an array or null): give a positive multiple of 4096 bytes")]
    [InlineData("""{ "listen": [ null ] }""", "listen (no value: empty, an object, an array or null): give ADDR:PORT")]
    [InlineData("""{ "listen": [ {} ] }""", "listen (no value: empty, an object, an array or null): give ADDR:PORT")]
    [InlineData("""{ "limits": { "maxInFlightBytes": {} } }""", "limits.maxInFlightBytes (no value: empty, an object, an array or null): give 1M to 16G")]
    [InlineData("""{ "audit": { "segmentSize": [] } }""", "audit.segmentSize (no value: empty, an object, an array or null): give")]
    [InlineData("""{ "controlGroup": {} }""", "controlGroup (no value: empty, an object, an array or null): give a group name")]
    [InlineData("""{ "exports": { "m": { "memory": true, "size": "4M", "allowedClients": [ {} ] } } }""", "exports.m.allowedClients (no value: empty, an object, an array or null): give each client identity as text")]
    public async Task A_configuration_value_out_of_range_is_a_usage_error_naming_it_and_nothing_is_created(string json, string expected)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), json);
        var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, "serve", "--config", "blocksim.json", "--socket", "none", "--listen", "127.0.0.1:0");
        AssertRefused(exit, output, expected);
        Assert.False(Directory.Exists(temp.File("blocksim-data")), "the data directory was created before the configuration was checked");
    }

    [Theory]
    [InlineData("BLOCKSIM__Limits__IdleTimeoutSeconds", "1e30", "limits.idleTimeoutSeconds 1E+30: give 0 (never) to 2592000 seconds")]
    [InlineData("BLOCKSIM__Simulation__FailWrites", "-0.5", "simulation.failWrites -0.5: give 0 to 1")]
    public async Task An_environment_value_out_of_range_is_refused_the_same_way(string variable, string value, string expected)
    {
        using var temp = new TempDirectory();
        await using var process = DaemonProcess.Start(temp.Path, new Dictionary<string, string> { [variable] = value }, "serve", "--socket", "none", "--listen", "127.0.0.1:0");
        AssertRefused(await process.WaitForExitAsync(), process.Output, expected);
        Assert.False(Directory.Exists(temp.File("blocksim-data")));
    }

    [Theory]
    [InlineData(new[] { "serve", "--latency-ms", "1e30" }, "--latency-ms 1e30: give 0 to 3600000")]
    [InlineData(new[] { "serve", "--latency-ms", "NaN" }, "--latency-ms NaN: give 0 to 3600000")]
    [InlineData(new[] { "serve", "--jitter-ms", "-2" }, "--jitter-ms -2: give 0 to 3600000")]
    [InlineData(new[] { "serve", "--fail-reads", "NaN" }, "--fail-reads NaN: give 0 to 1")]
    [InlineData(new[] { "serve", "--fail-writes", "1.5" }, "--fail-writes 1.5: give 0 to 1")]
    [InlineData(new[] { "serve", "--iops", "-1" }, "--iops -1: give 0 (no limit) to 10000000")]
    [InlineData(new[] { "serve", "--bandwidth", "0" }, "--bandwidth 0: give 1 to 1T bytes per second")]
    [InlineData(new[] { "serve", "--memory", "--size", "8000000T" }, "--size 8000000T: give 4K to 64T")]
    [InlineData(new[] { "serve", "--size", "5000" }, "--size 5000: give a positive multiple of 4096 bytes")]
    [InlineData(new[] { "serve", "--listen", "127.0.0.1:99999" }, "--listen 127.0.0.1:99999: give ADDR:PORT with a port from 0 to 65535")]
    [InlineData(new[] { "audit", "show", "--tail", "0" }, "--tail 0: give 1 to")]
    [InlineData(new[] { "audit", "show", "--tail", "-4" }, "--tail -4: give 1 to")]
    [InlineData(new[] { "key", "rotate", "alias/blocksim/default", "--min-decrypt-version", "0" }, "--min-decrypt-version 0: give 1 to")]
    [InlineData(new[] { "key", "rotate", "alias/blocksim/default", "--min-decrypt-version", "-3" }, "--min-decrypt-version -3: give 1 to")]
    public async Task A_command_line_value_out_of_range_is_a_usage_error_naming_it(string[] arguments, string expected)
    {
        using var temp = new TempDirectory();
        var serve = arguments[0] == "serve";
        var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, serve ? [.. arguments, "--socket", "none", "--listen", "127.0.0.1:0"] : arguments);
        AssertRefused(exit, output, expected);
        Assert.False(Directory.Exists(temp.File("blocksim-data")), "the data directory was created before the arguments were checked");
    }

    [Fact]
    public async Task A_minimum_decrypt_version_past_the_new_version_is_refused_not_clamped()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, "key", "rotate", "alias/blocksim/default", "--min-decrypt-version", "9");
        AssertRefused(exit, output, "minimum decryption version 9: give 1 to 2");
        var (_, described) = await KeyStoreCliTests.Cli(temp.Path, "--json", "key", "describe", "alias/blocksim/default");
        Assert.Contains("\"currentVersion\": 1,", described); // nothing changed: no new version either
    }

    [SkippableFact]
    public async Task A_volume_larger_than_the_file_system_allows_is_an_io_error_and_leaves_no_file()
    {
        using var temp = new TempDirectory();
        var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "huge", "--size", "8000000T");
        Skip.If(exit == 0, "this file system holds a sparse file of 8000000 TiB (tmpfs, xfs and btrfs do; ext4 stops at 16 TiB)");
        Assert.True(exit == 5, $"exit {exit}{Environment.NewLine}{output}");
        Assert.Contains("huge.vol: the file system cannot hold a volume of 8796093022208000000 bytes (8000000 TiB)", output);
        Assert.DoesNotContain("internal error", output);
        Assert.False(File.Exists(Path.Combine(temp.Path, "blocksim-data", "volumes", "huge.vol")), "a half-made volume file was left behind");

        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "small", "--size", "1M")).Exit);
        (exit, output) = await KeyStoreCliTests.Cli(temp.Path, "volume", "resize", "small", "--size", "8000000T");
        Assert.True(exit == 5, $"exit {exit}{Environment.NewLine}{output}");
        Assert.Contains("small.vol: the file system cannot hold a volume of", output);
        Assert.Contains("capacity: 1 MiB (1048576 bytes)", (await KeyStoreCliTests.Cli(temp.Path, "volume", "info", "small")).Output);
    }

    private static void AssertRefused(int exit, string output, string expected)
    {
        var what = $"exit {exit}{Environment.NewLine}{output}";
        Assert.True(exit == 2, what);
        Assert.True(output.Contains(expected, StringComparison.Ordinal), $"expected '{expected}' in:{Environment.NewLine}{what}");
        Assert.DoesNotContain("internal error", output);
        Assert.DoesNotContain("   at ", output);
    }
}
