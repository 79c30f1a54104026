using System.Diagnostics;
using System.Text.RegularExpressions;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The README's quick start, followed literally: its two commands are read out of README.md, the daemon one
/// is run in a fresh copy of the repository (as on a new machine: it builds, creates the data directory and
/// serves), and a client attaches at the address it promises. The test command is checked against the one CI
/// runs (running it here would run this test again).
/// </summary>
public partial class ReadmeQuickstartTests
{
    [Fact]
    public void The_quick_start_gives_the_daemon_command_and_the_test_command_ci_runs()
    {
        var (serve, test) = QuickStartCommands();
        Assert.Contains(" serve", serve);
        Assert.Equal("dotnet test BlockSim.sln -c Release", test);
        Assert.Contains($"{test} --no-build", File.ReadAllText(RepositoryFiles.Path(".ci", "run")));
    }

    [Fact]
    public async Task The_quick_start_daemon_command_works_in_a_fresh_copy()
    {
        var (serve, _) = QuickStartCommands();
        using var temp = new TempDirectory();
        var copy = Path.Combine(temp.Path, "blocksim");
        CopyRepository(copy);

        // setsid: the command and the daemon it starts form one process group, so Ctrl+C can reach both.
        var start = new ProcessStartInfo("setsid", ["bash", "-c", serve]) { WorkingDirectory = copy };
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1"; // leave no build servers behind
        using var process = new CapturedProcess(start);
        var ready = process.LineAsync(line => line.Contains("Press Ctrl+C to stop.", StringComparison.Ordinal));
        await Task.WhenAny(ready, process.WaitForExitAsync()).WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(ready.IsCompleted, $"the daemon did not start:\n{process.Output}");
        Assert.Contains("nbdinfo nbd://127.0.0.1:10809/default", process.Output);

        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", 10809, new NbdClientOptions { ExportName = "default" }))
        {
            Assert.Equal(1L << 30, client.Size);
            await client.WriteAsync(0, "quick start"u8.ToArray());
            await client.FlushAsync();
        }

        using (var interrupt = Process.Start("kill", ["-INT", "--", $"-{process.Id}"]))
        {
            await interrupt.WaitForExitAsync();
        }

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(File.Exists(Path.Combine(copy, "blocksim-data", "volumes", "default.vol")));
        Assert.Contains("Stopped: exports flushed, volume keys zeroed", process.Output);
    }

    /// <summary>The two sh blocks of the README's "Quick start" section.</summary>
    private static (string Serve, string Test) QuickStartCommands()
    {
        var readme = File.ReadAllText(RepositoryFiles.Path("README.md"));
        var section = QuickStartSection().Match(readme);
        Assert.True(section.Success, "README.md has no '## Quick start' section");
        var blocks = ShellBlock().Matches(section.Value).Select(m => m.Groups[1].Value.Trim()).ToArray();
        Assert.Equal(2, blocks.Length);
        return (blocks[0], blocks[1]);
    }

    /// <summary>Copies what git would check out (tracked and new files, nothing ignored such as bin/ or obj/).</summary>
    private static void CopyRepository(string destination)
    {
        var list = new ProcessStartInfo("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        {
            WorkingDirectory = RepositoryFiles.Root,
            RedirectStandardOutput = true,
        };
        using var git = Process.Start(list)!;
        var files = git.StandardOutput.ReadToEnd().Split('\0', StringSplitOptions.RemoveEmptyEntries);
        git.WaitForExit();
        Assert.Equal(0, git.ExitCode);
        foreach (var file in files)
        {
            var source = RepositoryFiles.Path(file);
            if (!File.Exists(source))
            {
                continue; // deleted in the working tree but not yet in the index
            }

            var target = Path.Combine(destination, file);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
        }
    }

    [GeneratedRegex(@"^## Quick start.*?(?=^## )", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex QuickStartSection();

    [GeneratedRegex(@"```sh\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ShellBlock();
}
