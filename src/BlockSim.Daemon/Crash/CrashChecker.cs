using System.Diagnostics;
using System.Text;

namespace BlockSim.Daemon.Crash;

/// <summary>What one check of one state said.</summary>
/// <param name="ExitCode">The checker's exit status; null when it ran past its time and was killed.</param>
/// <param name="Output">The last lines it printed (stdout and stderr together).</param>
internal sealed record CheckResult(int? ExitCode, string Output, TimeSpan Took)
{
    public bool Passed => ExitCode == 0;
}

/// <summary>
/// Runs the user's checker against one served state: <c>/bin/sh -c COMMAND crash URI</c>, so the command
/// gets the state's NBD URI as <c>$1</c> and in <c>BLOCKSIM_CRASH_URI</c>, with the socket, export name,
/// state number and recipe beside it. Its exit status decides: 0 passes. One that runs past its time is
/// killed with its children and fails.
/// </summary>
internal sealed class CrashChecker(string command, TimeSpan timeout)
{
    private const int KeptOutput = 4000;

    public string Command => command;

    public async Task<CheckResult> CheckAsync(ServedState state, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-c", command, "crash", state.Uri })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["BLOCKSIM_CRASH_URI"] = state.Uri;
        start.Environment["BLOCKSIM_CRASH_SOCKET"] = state.Socket;
        start.Environment["BLOCKSIM_CRASH_EXPORT"] = state.Export;
        start.Environment["BLOCKSIM_CRASH_STATE"] = state.Number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["BLOCKSIM_CRASH_RECIPE"] = state.Recipe;

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new IOException($"Could not start the checker: /bin/sh -c {command}");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Keep(output, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            lock (output)
            {
                return new CheckResult(null, $"{output}\n(the checker ran past {timeout.TotalSeconds:0.#} s and was killed)", clock.Elapsed);
            }
        }

        process.WaitForExit(); // the output's last lines
        lock (output)
        {
            return new CheckResult(process.ExitCode, output.ToString(), clock.Elapsed);
        }
    }

    private static void Keep(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
            if (output.Length > KeptOutput * 2)
            {
                output.Remove(0, output.Length - KeptOutput); // the end is what explains a failure
            }
        }
    }
}
