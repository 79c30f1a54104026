using System.Text.Json;
using BlockSim.Interop.Tests;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The crash-state explorer end to end on the host: a client's workload recorded from a running daemon
/// (record start/stop), then every chosen state served over NBD to a shell checker that reads it with
/// nbdcopy. The workload is a tiny commit protocol: data block i, then commit block 0 saying "i blocks".
/// With a flush between the two, no state can show a commit whose data is missing; without it, some must,
/// and the recipe of such a state must rebuild it every time.
/// </summary>
public class CrashExplorerTests(ITestOutputHelper output)
{
    private const int Block = 4096;
    private const int Commits = 4;

    // Reads the state into a file, then: the commit block's byte says how many data blocks were committed,
    // and each of them must hold its own number in its first and last byte.
    private const string Checker = """
        t=$(mktemp -d) && nbdcopy "$BLOCKSIM_CRASH_URI" "$t/state.img" || exit 3
        count=$(od -An -tu1 -N1 -j0 "$t/state.img" | tr -d ' ')
        i=1
        while [ "$i" -le "$count" ]; do
          for at in $((i * 4096)) $((i * 4096 + 4095)); do
            v=$(od -An -tu1 -N1 -j "$at" "$t/state.img" | tr -d ' ')
            if [ "$v" != "$i" ]; then echo "commit says $count blocks, but byte $at holds $v"; rm -rf "$t"; exit 1; fi
          done
          i=$((i + 1))
        done
        rm -rf "$t"
        """;

    [SkippableFact]
    public async Task Without_a_flush_before_the_commit_a_state_shows_it_without_its_data_and_its_recipe_replays_that_every_time()
    {
        ExternalTool.Require("nbdcopy", "libnbd-bin");
        using var temp = new TempDirectory();
        var (log, image) = await RecordAsync(temp, flushBeforeCommit: false);
        var checker = temp.File("check.sh");
        File.WriteAllText(checker, Checker);

        var explore = await KeyStoreCliTests.Cli(temp.Path, "crash", "explore", log, "--base", image, "--states", "prefix,drop=1", "--check", $"sh {checker}", "--report", temp.File("report"));
        output.WriteLine(explore.Output);
        Assert.True(explore.Exit == 1, explore.Output);
        var report = JsonDocument.Parse(File.ReadAllText(temp.File("report.json"))).RootElement;
        Assert.True(report.GetProperty("failed").GetInt32() > 0);
        var failure = report.GetProperty("failures")[0];
        Assert.Contains("commit says", failure.GetProperty("output").GetString());
        var shrunk = failure.GetProperty("shrunk").GetString()!;
        Assert.Matches("drop=[0-9]+$", shrunk); // the one lost write that matters: the data block's

        for (var replay = 0; replay < 10; replay++)
        {
            var again = await KeyStoreCliTests.Cli(temp.Path, "crash", "replay", shrunk, "--log", log, "--base", image, "--check", $"sh {checker}");
            Assert.True(again.Exit == 1, $"replay {replay + 1}: {again.Output}");
            Assert.Contains("FAILED", again.Output);
        }
    }

    [SkippableFact]
    public async Task With_a_flush_before_each_commit_every_state_passes()
    {
        ExternalTool.Require("nbdcopy", "libnbd-bin");
        using var temp = new TempDirectory();
        var (log, image) = await RecordAsync(temp, flushBeforeCommit: true);
        var checker = temp.File("check.sh");
        File.WriteAllText(checker, Checker);

        var explore = await KeyStoreCliTests.Cli(temp.Path, "crash", "explore", log, "--base", image, "--states", "prefix,drop=2,random=50", "--seed", "7", "--check", $"sh {checker}", "--report", temp.File("report"));
        output.WriteLine(explore.Output);
        Assert.True(explore.Exit == 0, explore.Output);
        var report = JsonDocument.Parse(File.ReadAllText(temp.File("report.json"))).RootElement;
        Assert.Equal(0, report.GetProperty("failed").GetInt32());
        Assert.True(report.GetProperty("states").GetInt32() >= 50, explore.Output);
        Assert.Contains("0 failed", File.ReadAllText(temp.File("report.md")));
    }

    [SkippableFact]
    public async Task A_volume_is_recorded_as_ciphertext_and_its_states_are_checked_decrypted_with_the_key_from_the_store()
    {
        ExternalTool.Require("nbdcopy", "libnbd-bin");
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "v", "--size", "16M")).Exit);
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            var port = await daemon.PortAsync();
            await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "v" }))
            {
                await client.WriteAsync(0, new byte[Block]);
                var started = await KeyStoreCliTests.Cli(temp.Path, "record", "start", "v", "--log", "run");
                Assert.True(started.Exit == 0, started.Output);
                Assert.Contains("run.base.vol", started.Output);
                for (byte i = 1; i <= Commits; i++)
                {
                    await client.WriteAsync((ulong)(i * Block), Filled(i));
                    await client.WriteAsync(0, Filled(i)); // no flush between: some states must fail
                    await client.FlushAsync();
                }
            }

            Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "record", "stop", "v")).Exit);
            Assert.Equal(0, await daemon.InterruptAsync());
        }

        var log = temp.File("blocksim-data/recordings/run.bslog");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(log));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(temp.File("blocksim-data/recordings/run.base.vol")));
        var logged = File.ReadAllBytes(log);
        Assert.True(logged.AsSpan().IndexOf(Filled(3).AsSpan(0, 64)) < 0, "plaintext in the log: the recorder must sit under the cipher");
        var checker = temp.File("check.sh");
        File.WriteAllText(checker, Checker);

        var explore = await KeyStoreCliTests.Cli(temp.Path, "crash", "explore", log, "--base", temp.File("blocksim-data/recordings/run.base.vol"), "--states", "prefix,drop=1", "--check", $"sh {checker}", "--report", temp.File("report"));
        output.WriteLine(explore.Output);
        Assert.True(explore.Exit == 1, explore.Output); // states were read decrypted: the checker saw the commit protocol break
        var report = JsonDocument.Parse(File.ReadAllText(temp.File("report.json"))).RootElement;
        Assert.True(report.GetProperty("passed").GetInt32() > 0 && report.GetProperty("failed").GetInt32() > 0, explore.Output);
        Assert.Contains("commit says", report.GetProperty("failures")[0].GetProperty("output").GetString());
    }

    [SkippableFact]
    public async Task Tear_takes_the_disks_atomic_write_unit_and_refuses_one_that_is_not_a_power_of_two_of_sectors()
    {
        ExternalTool.Require("nbdcopy", "libnbd-bin");
        using var temp = new TempDirectory();
        var (log, image) = await RecordAsync(temp, flushBeforeCommit: true);
        var checker = temp.File("check.sh");
        File.WriteAllText(checker, Checker);

        var whole = await KeyStoreCliTests.Cli(temp.Path, "crash", "explore", log, "--base", image, "--states", "random=20", "--tear", "4096", "--check", $"sh {checker}", "--report", temp.File("report"));
        Assert.True(whole.Exit == 0, whole.Output);
        Assert.Contains("tear 4096", File.ReadAllText(temp.File("report.md")));
        foreach (var bad in new[] { "1536", "256", "lots", "2097152" })
        {
            var refused = await KeyStoreCliTests.Cli(temp.Path, "crash", "explore", log, "--base", image, "--tear", bad, "--check", "true");
            Assert.True(refused.Exit is not (0 or 1), $"--tear {bad}: {refused.Output}");
            Assert.Contains("atomic write unit", refused.Output);
            Assert.DoesNotContain("   at ", refused.Output);
        }
    }

    [Fact]
    public async Task A_damaged_log_is_named_where_it_breaks_and_nothing_crashes()
    {
        using var temp = new TempDirectory();
        var (log, image) = await RecordAsync(temp, flushBeforeCommit: true);
        var bytes = File.ReadAllBytes(log);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(log, bytes);

        var shown = await KeyStoreCliTests.Cli(temp.Path, "crash", "show", log);
        Assert.Equal(5, shown.Exit); // an I/O error, said plainly
        Assert.Matches("record [0-9]+", shown.Output);
        var explored = await KeyStoreCliTests.Cli(temp.Path, "crash", "explore", log, "--base", image, "--check", "true");
        Assert.Equal(5, explored.Exit);
    }

    /// <summary>Runs the workload on a memory export while it is recorded; returns the log and its base image.</summary>
    private static async Task<(string Log, string Image)> RecordAsync(TempDirectory temp, bool flushBeforeCommit)
    {
        await using var daemon = await ControlledDaemon.StartAsync(temp, "1M");
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", daemon.Port, new NbdClientOptions { ExportName = "default" }))
        {
            await client.WriteAsync(0, new byte[Block]); // attached, the commit block says 0
            var started = await daemon.CliAsync("record", "start", "default", "--log", "run");
            Assert.True(started.Exit == 0, started.Output);
            for (byte i = 1; i <= Commits; i++)
            {
                await client.WriteAsync((ulong)(i * Block), Filled(i));
                if (flushBeforeCommit)
                {
                    await client.FlushAsync();
                }

                await client.WriteAsync(0, Filled(i));
                await client.FlushAsync();
            }
        }

        var stopped = await daemon.CliAsync("record", "stop", "default");
        Assert.True(stopped.Exit == 0, stopped.Output);
        Assert.Equal(0, await daemon.Process.InterruptAsync());
        return (temp.File("recordings/run.bslog"), temp.File("recordings/run.base.img"));
    }

    private static byte[] Filled(byte value) => Enumerable.Repeat(value, Block).ToArray();
}
