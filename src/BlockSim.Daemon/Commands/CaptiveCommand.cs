using System.Diagnostics;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>serve --run 'CMD'</c>, nbdkit's captive mode: once the daemon listens, CMD runs under /bin/sh with the
/// server's URI in $uri (and $exportname, $port or $unixsocket), sharing the daemon's terminal; when it exits
/// the daemon stops (flushing every export) and exits with its status, 128+N when a signal N ended it. If the
/// daemon is stopped first (Ctrl+C, SIGTERM), the command is sent SIGTERM and waited for.
/// </summary>
internal sealed partial class CaptiveCommand(string command)
{
    private Process? _process;

    /// <summary>The command's exit status once it has exited; null while it runs or if it never started.</summary>
    public int? ExitStatus { get; private set; }

    /// <summary>Starts the command; <paramref name="exited"/> runs when it ends (to stop the daemon).</summary>
    public void Start(ServeUri uri, Action exited)
    {
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        start.Environment["uri"] = uri.Uri;
        start.Environment["exportname"] = uri.Export;
        if (uri.Port is { } port)
        {
            start.Environment["port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (uri.UnixSocket is { } socket)
        {
            start.Environment["unixsocket"] = socket;
        }

        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.Exited += (_, _) =>
        {
            ExitStatus = _process.ExitCode; // .NET reports a signal's end as 128+N, as the shell does
            exited();
        };
        _process.Start();
    }

    /// <summary>The daemon is stopping before the command ended: asks it to end too (SIGTERM) and waits.</summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited)
        {
            return;
        }

        _ = Kill(_process.Id, 15);
        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
