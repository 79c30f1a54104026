using System.Diagnostics;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>What is shipped beside the binary: the manual page, written from the command tree, and the bash completion.</summary>
public class PackagingTests
{
    [Fact]
    public async Task The_manual_page_in_deploy_is_what_blocksim_man_writes_now()
    {
        using var temp = new TempDirectory();
        var (exit, page, output) = await Cli.RunApartAsync(temp.Path, "man");
        Assert.True(exit == 0, output);
        Assert.StartsWith(".TH BLOCKSIM 1 ", page);
        foreach (var command in new[] { "blocksim serve", "blocksim volume create NAME", "blocksim keystore slot add kmip", "blocksim status", "blocksim crash explore LOG" })
        {
            Assert.Contains($".SS \"{command.Replace("-", "\\-", StringComparison.Ordinal)}", page);
        }

        var committed = File.ReadAllText(Path.Combine(RepositoryFiles.Root, "deploy", "blocksim.1"));
        Assert.True(committed == page.ReplaceLineEndings("\n"), "deploy/blocksim.1 is out of date: regenerate it with 'blocksim man > deploy/blocksim.1'");
    }

    [Fact]
    public async Task Bash_completion_offers_commands_and_options_from_the_binary_in_use()
    {
        using var temp = new TempDirectory();
        var bin = temp.File("bin");
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(bin, "blocksim"), $"#!/bin/sh\nexec dotnet {Path.Combine(AppContext.BaseDirectory, "blocksim.dll")} \"$@\"\n");
        File.SetUnixFileMode(Path.Combine(bin, "blocksim"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var script = Path.Combine(RepositoryFiles.Root, "deploy", "blocksim.bash");

        Assert.Equal(["create"], await CompleteAsync(bin, script, "blocksim volume cr"));
        Assert.Contains("--print-uri", await CompleteAsync(bin, script, "blocksim serve --pr"));
        Assert.Contains("snapshot", await CompleteAsync(bin, script, "blocksim volume s"));
    }

    private static async Task<List<string>> CompleteAsync(string bin, string script, string line)
    {
        var words = line.Split(' ');
        var bash = $"source '{script}'; COMP_LINE='{line}'; COMP_POINT={line.Length}; COMP_WORDS=({string.Join(' ', words.Select(w => $"'{w}'"))}); COMP_CWORD={words.Length - 1}; _blocksim_complete; printf '%s\\n' \"${{COMPREPLY[@]}}\"";
        var start = new ProcessStartInfo("bash") { ArgumentList = { "-c", bash }, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}";
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }
}
