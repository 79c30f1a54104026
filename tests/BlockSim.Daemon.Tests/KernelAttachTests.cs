using System.Diagnostics;
using System.Text.RegularExpressions;
using BlockSim.Interop.Tests;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The Linux kernel's own NBD client against <c>blocksim serve</c>: Debian 12's kernel boots under qemu
/// (software emulation) with the initramfs of tests/kernel/, attaches an encrypted file-backed volume, makes
/// ext4, writes files, disconnects, reconnects and verifies them. The export has a volatile write cache
/// that loses power while the guest is disconnected, so anything the kernel believed flushed but the server
/// did not make durable would show up as a checksum or e2fsck failure. Afterwards the host copies the export
/// with nbdcopy and checks the copy with its own e2fsck.
/// </summary>
public partial class KernelAttachTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [InlineData(512, 1, false, 1)]   // nbd-client's defaults
    [InlineData(4096, 1, false, 1)]  // -b 4096
    [InlineData(4096, 2, false, 2)]  // -C 2 (multi-conn) with 2 guest CPUs, so both connections carry I/O
    [InlineData(512, 1, true, 1)]    // flush-heavy: sync after every file
    public async Task The_kernel_attaches_formats_and_reads_back_through_a_power_cut(int blockSize, int connections, bool flushEach, int cpus)
    {
        ExternalTool.Require("qemu-system-x86_64", "qemu-system-x86");
        ExternalTool.Require("nbdcopy", "libnbd-bin");
        ExternalTool.Require("e2fsck", "e2fsprogs");
        using var temp = new TempDirectory();
        await using (var create = DaemonProcess.Start(temp.Path, "volume", "create", "kernel", "--size", "64M"))
        {
            Assert.Equal(0, await create.WaitForExitAsync());
        }

        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none", "--volatile-cache");
        var port = await daemon.PortAsync();

        var (exit, console) = await BootAsync(port, blockSize, connections, flushEach, cpus, onDetached: () => daemon.SignalAsync("USR1"));
        foreach (var line in console.Split('\n').Where(l => l.StartsWith("KERNEL-TEST", StringComparison.Ordinal)))
        {
            output.WriteLine(line.TrimEnd()); // what the kernel negotiated and saw, for the record
        }

        Assert.True(exit == 0, $"the guest did not pass:\n{console}\n--- daemon ---\n{daemon.Output}");
        var powerCut = PowerCutLine().Match(daemon.Output);
        Assert.True(powerCut.Success, "the power was never cut");
        output.WriteLine($"host: {powerCut.Value} (between disconnect and reconnect)");
        Assert.Contains("KERNEL-TEST PASS", console);
        var attaches = AttachLine().Matches(daemon.Output).Count;
        Assert.True(attaches >= 2 * connections, $"expected {connections} connection(s) per attach, saw {attaches} attaches in all");

        await CopyAndCheckAsync(port, temp.File("copy.img"));
        Assert.Equal(0, await daemon.InterruptAsync());
    }

    /// <summary>The host's own check: nbdcopy the export "kernel" into <paramref name="image"/>, and e2fsck finds nothing to fix.</summary>
    internal static async Task CopyAndCheckAsync(int port, string image)
    {
        var copy = await ExternalTool.RunAsync("nbdcopy", [$"nbd://127.0.0.1:{port}/kernel", image]);
        Assert.True(copy.ExitCode == 0, copy.Output);
        var fsck = await ExternalTool.RunAsync("e2fsck", ["-fn", image]);
        Assert.True(fsck.ExitCode == 0, fsck.Output);
    }

    internal static async Task<(int Exit, string Console)> BootAsync(int port, int blockSize, int connections, bool flushEach, int cpus, Func<Task> onDetached)
    {
        var script = RepositoryFiles.Path("tests", "kernel", "boot.sh");
        using var process = new CapturedProcess(new ProcessStartInfo(script, [port.ToString(), "kernel", blockSize.ToString(), connections.ToString(), flushEach ? "1" : "0", cpus.ToString()]));
        var detached = process.LineAsync(line => line.StartsWith("KERNEL-TEST DETACHED", StringComparison.Ordinal));
        var exited = process.WaitForExitAsync();
        if (await Task.WhenAny(detached, exited) == detached)
        {
            await onDetached(); // the guest waits 5 s before it reconnects
        }

        await exited.WaitAsync(TimeSpan.FromMinutes(8));
        return (process.ExitCode, process.Output);
    }

    [GeneratedRegex(@"Simulated power cut: \d+ unflushed sectors lost")]
    internal static partial Regex PowerCutLine();

    [GeneratedRegex(@"attached export 'kernel'")]
    private static partial Regex AttachLine();
}
