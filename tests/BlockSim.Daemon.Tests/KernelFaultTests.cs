using System.Diagnostics;
using BlockSim.Interop.Tests;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The simulator driven at run time under the Linux kernel's own NBD client: the guest (tests/kernel/init,
/// mode fault) writes a file on ext4 and names its blocks with debugfs; the host aims a read fault at those
/// blocks through the control API, the guest's `cat` fails with EIO while another file still reads, and once
/// the host clears the fault the file reads back intact, with no reconnect in between.
/// </summary>
public class KernelFaultTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task A_fault_on_a_guest_files_blocks_fails_its_reads_until_it_is_cleared()
    {
        ExternalTool.Require("qemu-system-x86_64", "qemu-system-x86");
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "kernel", "--size", "64M")).Exit);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none");
        var port = await daemon.PortAsync();

        var script = RepositoryFiles.Path("tests", "kernel", "boot.sh");
        using var guest = new CapturedProcess(new ProcessStartInfo(script, [port.ToString(), "kernel", "4096", "1", "0", "1", "fault"]));
        var exited = guest.WaitForExitAsync();

        var named = guest.LineAsync(line => line.StartsWith("KERNEL-TEST FILE-BLOCKS", StringComparison.Ordinal));
        Assert.True(await Task.WhenAny(named, exited) == named, $"the guest never named the file's blocks:\n{guest.Output}");
        var blocksLine = guest.Output.Split('\n').First(l => l.StartsWith("KERNEL-TEST FILE-BLOCKS", StringComparison.Ordinal)).Trim();
        output.WriteLine(blocksLine);
        var fields = blocksLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var blockSize = long.Parse(fields[2]);
        var blocks = fields.Skip(3).Select(long.Parse).ToList();
        Assert.NotEmpty(blocks);
        foreach (var (first, count) in Runs(blocks))
        {
            var added = await KeyStoreCliTests.Cli(temp.Path, "sim", "fault", "add", "kernel", "--op", "read", "--offset", (first * blockSize).ToString(), "--length", (count * blockSize).ToString());
            Assert.True(added.Exit == 0, added.Output);
            output.WriteLine(added.Output.Trim());
        }

        var failed = guest.LineAsync(line => line.StartsWith("KERNEL-TEST EIO-SEEN", StringComparison.Ordinal));
        Assert.True(await Task.WhenAny(failed, exited) == failed, $"the guest never saw EIO:\n{guest.Output}");
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "sim", "fault", "clear", "kernel")).Exit);

        await exited.WaitAsync(TimeSpan.FromMinutes(6));
        Assert.True(guest.ExitCode == 0, $"the guest did not pass:\n{guest.Output}\n--- daemon ---\n{daemon.Output}");
        Assert.Contains("KERNEL-TEST PASS", guest.Output);
        var events = await KeyStoreCliTests.Cli(temp.Path, "sim", "events", "kernel");
        Assert.Contains("fault rule 1 Read", events.Output);
        Assert.Equal(0, await daemon.InterruptAsync());
    }

    [SkippableFact]
    public async Task A_stall_longer_than_the_kernel_clients_timeout_is_seen_as_one()
    {
        ExternalTool.Require("qemu-system-x86_64", "qemu-system-x86");
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "kernel", "--size", "64M")).Exit);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none");
        var port = await daemon.PortAsync();
        var added = await KeyStoreCliTests.Cli(temp.Path, "sim", "fault", "add", "kernel", "--kind", "stall", "--op", "read", "--stall-ms", "20000", "--offset", (100 * 4096).ToString(), "--length", "4096", "--count", "1");
        Assert.True(added.Exit == 0, added.Output);

        using var guest = new CapturedProcess(new ProcessStartInfo(RepositoryFiles.Path("tests", "kernel", "boot.sh"), [port.ToString(), "kernel", "4096", "1", "0", "1", "stall"]));
        await guest.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(6));
        output.WriteLine(guest.Output.Split('\n').FirstOrDefault(l => l.StartsWith("KERNEL-TEST", StringComparison.Ordinal)) ?? "");
        Assert.True(guest.ExitCode == 0, $"the guest did not pass:\n{guest.Output}\n--- daemon ---\n{daemon.Output}");
        Assert.Contains("KERNEL-TEST PASS", guest.Output);
        Assert.Contains("Stall", (await KeyStoreCliTests.Cli(temp.Path, "sim", "events", "kernel")).Output);
    }

    /// <summary>Contiguous runs of block numbers, as (first, count).</summary>
    private static IEnumerable<(long First, long Count)> Runs(List<long> blocks)
    {
        var sorted = blocks.Order().ToList();
        var start = sorted[0];
        var previous = start;
        foreach (var block in sorted.Skip(1))
        {
            if (block != previous + 1)
            {
                yield return (start, previous - start + 1);
                start = block;
            }

            previous = block;
        }

        yield return (start, previous - start + 1);
    }
}
