using BlockSim.Nbd.Client;
using BlockSim.Nbd.Protocol;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

public class SimulationFlagTests
{
    [Fact]
    public async Task A_power_cut_loses_unflushed_writes_and_keeps_flushed_ones()
    {
        using var temp = new TempDirectory();
        var directory = temp.Path;
        await using var daemon = DaemonProcess.Start(directory, "serve", "--listen", "127.0.0.1:0", "--socket", "none", "--volatile-cache");
        var port = await daemon.PortAsync();
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
        var flushed = Enumerable.Repeat((byte)0xAA, 4096).ToArray();
        var unflushed = Enumerable.Repeat((byte)0xBB, 4096).ToArray();
        await client.WriteAsync(0, flushed);
        await client.FlushAsync();
        await client.WriteAsync(8192, unflushed);
        var back = new byte[4096];
        await client.ReadAsync(8192, back);
        Assert.Equal(unflushed, back); // acknowledged and visible until the power goes

        await daemon.SignalAsync("USR1");
        await daemon.WaitForOutputAsync("Simulated power cut: 8 unflushed sectors lost."); // 4 KiB in the disk's 512-byte sectors
        await client.ReadAsync(8192, back);
        Assert.Equal(new byte[4096], back);
        await client.ReadAsync(0, back);
        Assert.Equal(flushed, back);
    }

    [Fact]
    public async Task Injected_write_errors_reach_the_client_as_eio()
    {
        using var temp = new TempDirectory();
        var directory = temp.Path;
        await using var daemon = DaemonProcess.Start(directory, "serve", "--listen", "127.0.0.1:0", "--socket", "none", "--fail-writes", "1");
        var port = await daemon.PortAsync();
        await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" });
        var e = await Assert.ThrowsAsync<NbdClientException>(() => client.WriteAsync(0, new byte[4096]));
        Assert.Equal(NbdError.IO, e.Error);
        await client.ReadAsync(0, new byte[4096]); // reads still work, and so does the connection
    }

    [Fact]
    public async Task A_probability_outside_0_to_1_is_a_usage_error()
    {
        using var temp = new TempDirectory();
        var directory = temp.Path;
        await using var daemon = DaemonProcess.Start(directory, "serve", "--fail-reads", "1.5", "--socket", "none");
        Assert.Equal(2, await daemon.WaitForExitAsync());
        Assert.Contains("--fail-reads 1.5: give 0 to 1.", daemon.Output);
    }
}
