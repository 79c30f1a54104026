using System.Diagnostics;
using System.Text.Json;
using BlockSim.Interop.Tests;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// nbdkit's habits, which scripts and test harnesses built around nbdkit lean on: captive mode (--run), the
/// URI printed alone (--print-uri), a pid file written once listening, -e for the export's name, and
/// --exit-with-parent.
/// </summary>
public class NbdkitHabitsTests
{
    [Fact]
    public async Task Run_gives_the_command_the_uri_of_a_private_socket_and_exits_with_its_status()
    {
        using var temp = new TempDirectory();
        var (exit, output) = await Cli.RunAsync(
            temp.Path,
            "serve", "--memory", "--size", "16M", "-e", "scratch",
            "--run", """printf '%s\n' "$uri" "$exportname" "$unixsocket" "${port:-no port}" > env.txt; test -S "$unixsocket" || exit 9; exit 7""");
        Assert.True(exit == 7, output); // the command's status
        var env = File.ReadAllLines(temp.File("env.txt"));
        Assert.Equal("scratch", env[1]);
        Assert.Equal($"nbd+unix:///scratch?socket={env[2]}", env[0]);
        Assert.StartsWith(Path.GetTempPath().TrimEnd('/') + "/blocksim-run-", env[2]);
        Assert.Equal("no port", env[3]); // no TCP listener to collide with another daemon's
        Assert.False(Directory.Exists(Path.GetDirectoryName(env[2]))); // its socket folder is gone with it
        Assert.DoesNotContain("Attach 'scratch' with", output);
    }

    [SkippableFact]
    public async Task Run_serves_a_real_client_through_uri()
    {
        ExternalTool.Require("nbdinfo", "libnbd-bin");
        using var temp = new TempDirectory();
        var (exit, standardOutput, output) = await Cli.RunApartAsync(temp.Path, "serve", "--memory", "--encrypted", "--size", "32M", "--run", "nbdinfo --json \"$uri\"");
        Assert.True(exit == 0, output);
        var info = JsonDocument.Parse(standardOutput).RootElement; // nbdinfo's document alone: the daemon logs to standard error
        Assert.Equal(32L << 20, info.GetProperty("exports")[0].GetProperty("export-size").GetInt64());
    }

    [Fact]
    public async Task Print_uri_is_the_one_line_on_standard_output_and_the_pid_file_comes_and_goes()
    {
        using var temp = new TempDirectory();
        var pidFile = temp.File("run/blocksim.pid");
        Directory.CreateDirectory(temp.File("run"));
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--memory", "--size", "16M", "-e", "disk", "--listen", "127.0.0.1:0", "--socket", "none", "--print-uri", "--pid-file", pidFile);
        var uri = await WaitForLineAsync(daemon, l => l.StartsWith("nbd://", StringComparison.Ordinal));
        Assert.Matches(@"^nbd://127\.0\.0\.1:\d+/disk$", uri);
        Assert.Equal($"{daemon.Id}", File.ReadAllText(pidFile).Trim());
        Assert.Equal(0, await daemon.InterruptAsync());
        Assert.Equal([uri], daemon.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("info: blocksim", daemon.Output); // the log is there, on standard error
        Assert.False(File.Exists(pidFile));
    }

    [Fact]
    public async Task A_pid_file_that_cannot_be_written_stops_start_up_clearly()
    {
        using var temp = new TempDirectory();
        var (exit, output) = await Cli.RunAsync(temp.Path, "serve", "--memory", "--listen", "127.0.0.1:0", "--socket", "none", "--pid-file", temp.File("no-such-folder/blocksim.pid"));
        Assert.Equal(5, exit);
        Assert.Contains("--pid-file ", output);
        Assert.DoesNotContain("Press Ctrl+C", output);
    }

    [Fact]
    public async Task Exit_with_parent_stops_the_daemon_gracefully_when_its_parent_exits()
    {
        using var temp = new TempDirectory();
        var pidFile = temp.File("blocksim.pid");
        var daemon = $"dotnet {Path.Combine(AppContext.BaseDirectory, "blocksim.dll")} serve --memory --listen 127.0.0.1:0 --socket none --exit-with-parent --pid-file {pidFile}";

        // The parent: starts the daemon in the background, waits until it listens, keeps its pid (the daemon
        // removes the pid file as it stops, which may be before this test looks), and exits.
        var parent = Process.Start(new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", $"{daemon} >daemon.log 2>&1 & for i in $(seq 300); do [ -f {pidFile} ] && cp {pidFile} seen.pid && exit 0; sleep 0.1; done; exit 1" }, WorkingDirectory = temp.Path })!;
        await parent.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(parent.ExitCode == 0, File.ReadAllText(temp.File("daemon.log")));
        var pid = int.Parse(File.ReadAllText(temp.File("seen.pid")).Trim());

        var clock = Stopwatch.StartNew();
        while (Directory.Exists($"/proc/{pid}") && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(100);
        }

        Assert.False(Directory.Exists($"/proc/{pid}"), $"the daemon outlived its parent by 30 s:\n{File.ReadAllText(temp.File("daemon.log"))}");
        Assert.False(File.Exists(pidFile)); // a graceful stop, which removes it
        Assert.Contains("Stopped", File.ReadAllText(temp.File("daemon.log")), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Help_shows_what_to_type_not_the_options_name_again()
    {
        using var temp = new TempDirectory();
        var (exit, output) = await Cli.RunAsync(temp.Path, "serve", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--listen <ADDR:PORT[,tls=MODE]>", output);
        Assert.Contains("--data-dir <DIR>", output);
        Assert.Contains("-P, --pid-file, --pidfile <FILE>", output);
        Assert.DoesNotContain("<listen>", output);
        Assert.Contains("--sector-size <512|4096>", (await Cli.RunAsync(temp.Path, "volume", "create", "--help")).Output);
    }

    private static async Task<string> WaitForLineAsync(DaemonProcess daemon, Func<string, bool> match)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (daemon.StandardOutput.Split('\n').Select(l => l.TrimEnd('\r')).FirstOrDefault(match) is { } line)
            {
                return line;
            }

            Assert.False(daemon.HasExited, daemon.Output);
            await Task.Delay(50);
        }

        throw new TimeoutException(daemon.Output);
    }
}
