using System.Diagnostics;
using System.Text.RegularExpressions;

namespace BlockSim.Daemon.Tests;

/// <summary>Runs the real blocksim executable as a child process, as a user would.</summary>
public sealed partial class DaemonProcess : IAsyncDisposable
{
    private readonly CapturedProcess _process;

    private DaemonProcess(CapturedProcess process)
    {
        _process = process;
    }

    public string Output => _process.Output;

    /// <summary>Standard output alone.</summary>
    public string StandardOutput => _process.StandardOutput;

    public bool HasExited => _process.HasExited;

    /// <summary>The daemon's process id (it runs as <c>dotnet blocksim.dll</c>, so the child itself).</summary>
    public int Id => _process.Id;

    public static DaemonProcess Start(string workingDirectory, params string[] arguments) => Start(workingDirectory, new Dictionary<string, string>(), arguments);

    /// <summary>Starts blocksim with extra environment variables.</summary>
    public static DaemonProcess Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, WorkingDirectory = workingDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "blocksim.dll"));
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return new DaemonProcess(new CapturedProcess(start));
    }

    /// <summary>The TCP port from the attach help the daemon prints once it listens.</summary>
    public async Task<int> PortAsync()
    {
        await _process.LineAsync(line => AttachLine().IsMatch(line)).WaitAsync(TimeSpan.FromSeconds(30));
        return int.Parse(AttachLine().Match(Output).Groups[1].Value);
    }

    /// <summary>SIGINT, as Ctrl+C (or another signal, e.g. TERM as systemd sends); returns the exit code.</summary>
    public async Task<int> InterruptAsync(string signal = "INT")
    {
        await SignalAsync(signal);
        return await WaitForExitAsync();
    }

    /// <summary>SIGKILL: no chance to flush or answer anything.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString()]);
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits until the daemon has printed <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text)
    {
        for (var i = 0; i < 300 && !Output.Contains(text, StringComparison.Ordinal); i++)
        {
            await Task.Delay(50);
        }

        Assert.Contains(text, Output);
    }

    /// <summary>Waits for the process to exit: 30 s unless a longer run (a crash-state exploration) is expected.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? limit = null)
    {
        await _process.WaitForExitAsync().WaitAsync(limit ?? TimeSpan.FromSeconds(30));
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    [GeneratedRegex(@"nbdinfo '?nbds?://127\.0\.0\.1:(\d+)/")]
    private static partial Regex AttachLine();
}
