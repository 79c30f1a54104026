using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>A daemon serving one memory export with its admin socket in the test's folder, and the CLI's `sim` against it.</summary>
public sealed class ControlledDaemon : IAsyncDisposable
{
    private readonly TempDirectory _temp;

    private ControlledDaemon(TempDirectory temp, DaemonProcess process, int port)
    {
        _temp = temp;
        Process = process;
        Port = port;
    }

    public DaemonProcess Process { get; }

    public int Port { get; }

    public string Control => _temp.File("admin.sock");

    /// <summary>Starts <c>serve --memory --size SIZE</c> with <paramref name="flags"/> and waits until it listens.</summary>
    public static async Task<ControlledDaemon> StartAsync(TempDirectory temp, string size, params string[] flags)
    {
        var process = DaemonProcess.Start(temp.Path, ["serve", "--memory", "--size", size, "--listen", "127.0.0.1:0", "--socket", "none", "--control", temp.File("admin.sock"), .. flags]);
        return new ControlledDaemon(temp, process, await process.PortAsync());
    }

    /// <summary>Runs <c>blocksim sim ARGUMENTS</c> against this daemon.</summary>
    public Task<(int Exit, string Output)> SimAsync(params string[] arguments) => CliAsync(["sim", .. arguments]);

    /// <summary>Runs <c>blocksim ARGUMENTS</c> against this daemon's admin socket.</summary>
    public Task<(int Exit, string Output)> CliAsync(params string[] arguments) =>
        KeyStoreCliTests.Cli(_temp.Path, [.. arguments, "--control", Control]);

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
