using System.Diagnostics;
using System.Text;

namespace BlockSim.Daemon.Tests;

/// <summary>A child process whose standard output and error are collected line by line, with a wait for a given line.</summary>
public sealed class CapturedProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _standardOutput = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource Seen)> _waiters = [];

    public CapturedProcess(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data, standardOutput: true);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data, standardOutput: false);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public int ExitCode => _process.ExitCode;

    public bool HasExited => _process.HasExited;

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

    /// <summary>Standard output alone (what a script reads, --json's document), without standard error's lines.</summary>
    public string StandardOutput
    {
        get
        {
            lock (_output)
            {
                return _standardOutput.ToString();
            }
        }
    }

    /// <summary>Completes when a line matching <paramref name="match"/> is printed (or already was).</summary>
    public Task LineAsync(Func<string, bool> match)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Split('\n').Any(l => match(l.TrimEnd('\r'))))
            {
                seen.SetResult();
            }
            else
            {
                _waiters.Add((match, seen));
            }
        }

        return seen.Task;
    }

    public Task WaitForExitAsync() => _process.WaitForExitAsync();

    /// <summary>SIGKILL, unless it has already exited.</summary>
    public void Kill(bool entireProcessTree = false)
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree);
        }
    }

    public void Dispose()
    {
        Kill(entireProcessTree: true);
        _process.Dispose();
    }

    private void OnLine(string? line, bool standardOutput)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            if (standardOutput)
            {
                _standardOutput.AppendLine(line);
            }
            foreach (var waiter in _waiters.Where(w => w.Match(line)).ToList())
            {
                waiter.Seen.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }
}
