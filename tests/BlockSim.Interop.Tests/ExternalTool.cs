using System.Diagnostics;

namespace BlockSim.Interop.Tests;

/// <summary>
/// Runs a real client program. A missing program skips the test with the reason printed, unless
/// BLOCKSIM_REQUIRE_INTEROP=1 (as CI sets), where it fails: interop must never pass by not running.
/// </summary>
public static class ExternalTool
{
    public const string RequireVariable = "BLOCKSIM_REQUIRE_INTEROP";

    public static void Require(string program, string debianPackage)
    {
        if (Find(program) is not null)
        {
            return;
        }

        var reason = $"{program} is not installed (Debian package {debianPackage}: apt-get install {debianPackage})";
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
        {
            Assert.Fail($"{reason}, and {RequireVariable}=1 requires every interop test to run.");
        }

        Skip.If(true, reason);
    }

    /// <summary>Runs the program and writes the command line, exit code and (the start of) its output to the test's log.</summary>
    public static async Task<(int ExitCode, string Output)> RunLoggedAsync(Xunit.Abstractions.ITestOutputHelper log, string program, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var list = arguments.ToList();
        var (exit, text) = await RunAsync(program, list, timeout);
        log.WriteLine($"$ {program} {string.Join(' ', list)}  (exit {exit})");
        log.WriteLine(text.Length > 3000 ? text[..3000] : text);
        return (exit, text);
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> arguments, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(Find(program) ?? program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', arguments)} did not finish in time");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    public static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin"])
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
