using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// Every command with hostile arguments (missing values, garbage files, missing paths, huge numbers, bad sizes,
/// unknown keys): a clear message and a documented exit code (2 usage, 3 not found, 4 denied, 5 I/O), never a
/// .NET stack trace or the 1 of an unhandled exception.
/// </summary>
public class HostileArgumentsTests
{
    private static readonly string[][] s_invocations =
    [
        [],
        ["frobnicate"],
        ["--data-dir"],
        ["info", "--bogus"],
        ["volume", "create"],
        ["volume", "create", "w", "--size"],
        ["volume", "create", "w", "--size", "1Q"],
        ["volume", "create", "w", "--size", "-5"],
        ["volume", "create", "w", "--size", "99999999999999999999999T"],
        ["volume", "create", "w", "--size", "9000000000000T"],
        ["volume", "create", "w", "--size", "1M", "--sector-size", "1024"],
        ["volume", "create", "w", "--size", "1M", "--sector-size", "0"],
        ["volume", "create", "w", "--size", "1M", "--sector-size", "99999999999"],
        ["volume", "create", "w", "--size", "1M", "--key", "alias/nope"],
        ["volume", "create", "../w", "--size", "1M"],
        ["volume", "create", "v", "--size", "1M"],
        ["volume", "info", "nope"],
        ["volume", "info", "../etc"],
        ["volume", "rewrap"],
        ["volume", "rewrap", "nope"],
        ["volume", "rewrap", "v", "--key", "alias/nope"],
        ["volume", "rewrap", "v", "--all"],
        ["volume", "resize", "v", "--size", "0"],
        ["volume", "resize", "v", "--size", "1Q"],
        ["volume", "resize", "v", "--size", "9000000000000T"],
        ["volume", "resize", "nope", "--size", "1M"],
        ["volume", "import", "v", "missing.img"],
        ["volume", "import", "v", "a-directory"],
        ["volume", "import", "nope", "missing.img"],
        ["volume", "export", "v", "/nonexistent/dir/out.img"],
        ["volume", "export", "v", "a-directory"],
        ["volume", "export", "nope", "out.img"],
        ["volume", "snapshot"],
        ["volume", "snapshot", "create"],
        ["volume", "snapshot", "create", "v"],
        ["volume", "snapshot", "create", "v@../x"],
        ["volume", "snapshot", "create", "nope@x"],
        ["volume", "snapshot", "list"],
        ["volume", "snapshot", "list", "nope"],
        ["volume", "snapshot", "list", "../v"],
        ["volume", "snapshot", "rollback", "v@nope", "--yes"],
        ["volume", "snapshot", "rollback", "v@x"],
        ["volume", "snapshot", "delete", "v@nope", "--yes"],
        ["volume", "snapshot", "delete", "v@", "--yes"],
        ["volume", "delete", "nope", "--yes"],
        ["volume", "delete", "v"],
        ["key", "create", "--alias"],
        ["key", "create", "--alias", "not-an-alias"],
        ["key", "create", "--alias", "alias/blocksim/default"],
        ["key", "describe"],
        ["key", "describe", "alias/nope"],
        ["key", "enable", "alias/nope"],
        ["key", "disable", ""],
        ["key", "cancel-deletion", "alias/blocksim/default"],
        ["key", "rotate", "alias/nope"],
        ["key", "rotate", "alias/blocksim/default", "--min-decrypt-version", "abc"],
        ["key", "rotate", "alias/blocksim/default", "--min-decrypt-version", "99999999999"],
        ["key", "schedule-deletion", "alias/blocksim/default", "--days", "3", "--yes"],
        ["key", "schedule-deletion", "alias/blocksim/default", "--days", "99999999999", "--yes"],
        ["key", "schedule-deletion", "alias/nope", "--yes"],
        ["key", "alias", "not-an-alias", "alias/blocksim/default"],
        ["key", "alias", "alias/x", "alias/nope"],
        ["--as", "user:eve", "key", "disable", "alias/blocksim/default"],
        ["policy", "get", "alias/nope"],
        ["policy", "put", "alias/blocksim/default", "missing.json"],
        ["policy", "put", "alias/blocksim/default", "garbage.json"],
        ["policy", "put", "alias/blocksim/default", "empty.json"],
        ["policy", "put", "alias/blocksim/default", "binary.json"],
        ["policy", "put", "alias/blocksim/default", "numbers.json"],
        ["policy", "put", "alias/blocksim/default", "a-directory"],
        ["policy", "test", "alias/blocksim/default"],
        ["policy", "test", "alias/blocksim/default", "--principal", "x", "--action", "Decrypt", "--context", "novalue"],
        ["policy", "test", "alias/nope", "--principal", "x", "--action", "Decrypt"],
        ["grant", "create", "alias/blocksim/default"],
        ["grant", "create", "alias/nope", "--grantee", "x", "--operation", "Decrypt"],
        ["grant", "create", "alias/blocksim/default", "--grantee", "x", "--operation", "Decryptt"],
        ["grant", "create", "alias/blocksim/default", "--grantee", "x", "--operation", "Decrypt", "--context", "bad"],
        ["grant", "list", "alias/nope"],
        ["grant", "retire", "nope"],
        ["audit", "show", "--tail", "abc"],
        ["audit", "show", "--tail", "99999999999"],
        ["audit", "verify", "extra"],
        ["tls", "init"],
        ["tls", "init", "/proc/blocksim-tls"],
        ["tls", "init", "t", "--days", "-1"],
        ["tls", "init", "t", "--days", "99999999"],
        ["tls", "client"],
        ["tls", "client", "missing-dir", "bob"],
        ["tls", "client", "a-directory", "bob"],
        ["--data-dir", "/nonexistent/blocksim", "key", "list"],
        ["--data-dir", "garbage.json", "key", "list"],
        ["--passphrase-file", "missing.txt", "key", "list"],
        ["--data-dir", "damaged", "key", "list"],
        ["serve", "--listen", "garbage"],
        ["serve", "--listen", "127.0.0.1:99999"],
        ["serve", "--size", "1Q"],
        ["serve", "--config", "missing.json"],
        ["serve", "--config", "garbage.json"],
        ["serve", "--config", "numbers.json"],
        ["serve", "--tls", "maybe"],
        ["serve", "--metrics", "192.0.2.1:9187"],
        ["serve", "--tls-cert", "missing.pem", "--tls-key", "missing.pem"],
        ["serve", "--memory", "--size", "99999999999999999999999T"],
        ["serve", "--memory", "--size", "8000000T"],
        ["serve", "--latency-ms", "NaN"],
        ["serve", "--fail-writes", "Infinity"],
        ["serve", "--socket", "/proc/blocksim/nbd.sock"],
        ["serve", "--data-dir", "garbage.json"],
        ["serve", "--config", "limits.json"],
        ["audit", "show", "--tail", "-1"],
        ["key", "rotate", "alias/blocksim/default", "--min-decrypt-version", "0"],
        ["key", "rotate", "alias/blocksim/default", "--min-decrypt-version", "99"],
        ["volume", "create", "w", "--size", "8000000T"],
        ["volume", "resize", "v", "--size", "8000000T"],
    ];

    [Fact]
    public async Task No_command_crashes_or_prints_a_stack_trace_on_hostile_arguments()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        Directory.CreateDirectory(temp.File("a-directory"));
        File.WriteAllText(temp.File("garbage.json"), "{ this is not json");
        File.WriteAllText(temp.File("empty.json"), "");
        File.WriteAllBytes(temp.File("binary.json"), [0xff, 0xfe, 0x00, 0x01, 0x7b]);
        File.WriteAllText(temp.File("numbers.json"), """{"Statement": 12, "listen": 5, "exports": [1]}""");
        File.WriteAllText(temp.File("limits.json"), """{"limits": {"idleTimeoutSeconds": 1e30, "maxConnections": 99999999999}}""");
        Directory.CreateDirectory(Path.Combine(temp.Path, "damaged", "keystore"));
        File.WriteAllText(Path.Combine(temp.Path, "damaged", "keystore", "keystore.json"), "{\"format\": 7}");
        File.WriteAllBytes(Path.Combine(temp.Path, "damaged", "keystore.key"), new byte[32]);
        File.SetUnixFileMode(Path.Combine(temp.Path, "damaged", "keystore.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite); // private, so the damaged store is what gets refused

        var failures = new List<string>();
        foreach (var arguments in s_invocations)
        {
            await using var process = DaemonProcess.Start(temp.Path, arguments);
            var exited = process.WaitForExitAsync();
            if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(25))) != exited)
            {
                failures.Add($"blocksim {string.Join(' ', arguments)}: still running after 25 s (it accepted hostile arguments)");
                continue;
            }

            var exit = await exited;
            var output = process.Output;
            if (output.Contains("   at ", StringComparison.Ordinal) || exit is not (2 or 3 or 4 or 5) || string.IsNullOrWhiteSpace(output))
            {
                failures.Add($"blocksim {string.Join(' ', arguments)}: exit {exit}{Environment.NewLine}{output}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {s_invocations.Length} invocations misbehaved:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
    }
}
