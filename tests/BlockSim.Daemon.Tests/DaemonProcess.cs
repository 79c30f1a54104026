using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace BlockSim.Daemon.Tests;

/// <summary>Runs the real blocksim executable as a child process, as a user would.</summary>
public sealed partial class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DaemonProcess(Process process)
    {
        _process = process;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static DaemonProcess Start(string workingDirectory, params string[] arguments) => Start(workingDirectory, new Dictionary<string, string>(), arguments);

    /// <summary>Starts blocksim with extra environment variables.</summary>
    public static DaemonProcess Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "blocksim.dll"));
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var daemon = new DaemonProcess(Process.Start(start)!);
        daemon._process.OutputDataReceived += (_, e) => daemon.OnLine(e.Data);
        daemon._process.ErrorDataReceived += (_, e) => daemon.OnLine(e.Data);
        daemon._process.BeginOutputReadLine();
        daemon._process.BeginErrorReadLine();
        return daemon;
    }

    /// <summary>The TCP port from the attach help the daemon prints once it listens.</summary>
    public Task<int> PortAsync() => _port.Task.WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>SIGINT, as Ctrl+C (or another signal, e.g. TERM as systemd sends); returns the exit code.</summary>
    public async Task<int> InterruptAsync(string signal = "INT")
    {
        await SignalAsync(signal);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

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

    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        var match = AttachLine().Match(line);
        if (match.Success)
        {
            _port.TrySetResult(int.Parse(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"nbdinfo nbd://127\.0\.0\.1:(\d+)/")]
    private static partial Regex AttachLine();
}
