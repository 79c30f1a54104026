using System.Diagnostics;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Protocol;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The daemon on a file system that fills up (a small tmpfs, where this test may mount one): writes that
/// find no space get ENOSPC, not EIO, the log says so once rather than per write, an attach whose audit
/// record cannot be written is refused with a reply that says why, and freeing space (a TRIM) ends it.
/// </summary>
public class DiskFullTests
{
    [SkippableFact]
    public async Task A_full_disk_answers_enospc_logs_one_line_and_refuses_attaches_clearly()
    {
        using var temp = new TempDirectory();
        var mount = temp.File("small");
        Directory.CreateDirectory(mount);
        Skip.IfNot(await RunAsync("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount) == 0, "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        try
        {
            var data = Path.Combine(mount, "data");
            var socket = Path.Combine(mount, "nbd.sock");
            await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--data-dir", data, "--size", "64M", "--listen", "127.0.0.1:0", "--socket", socket);
            var port = await daemon.PortAsync();
            await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "default" }))
            {
                var chunk = new byte[1 << 20];
                new Random(7).NextBytes(chunk); // ciphertext never compresses, but tmpfs does not either
                NbdClientException? full = null;
                var written = 0;
                for (; written < 64 && full is null; written++)
                {
                    full = await Record(() => client.WriteAsync((ulong)written << 20, chunk));
                }

                Assert.NotNull(full);
                Assert.Equal(NbdError.NoSpace, full.Error);
                for (var i = 0; i < 20; i++)
                {
                    Assert.Equal(NbdError.NoSpace, (await Record(() => client.WriteAsync((ulong)(written + i) << 20, chunk)))?.Error);
                }

                // An attach from elsewhere (its own audit record, not a repeat of the first) cannot be recorded: a clear refusal.
                var refused = await Assert.ThrowsAsync<NbdClientException>(() => NbdClient.ConnectUnixAsync(socket, new NbdClientOptions { ExportName = "default" }));
                Assert.Contains("ErrorPolicy", refused.Message);
                Assert.Contains("AuditWriteFailed: the server cannot write its audit log", refused.Message, StringComparison.Ordinal);

                await client.TrimAsync(0, 4 << 20); // frees the first 4 MiB of the file
                await client.WriteAsync(0, chunk);
                await client.FlushAsync();
            }

            Assert.Equal(0, await daemon.InterruptAsync());
            var lines = daemon.Output.Split('\n');
            Assert.Single(lines, l => l.Contains("no space left on its storage", StringComparison.Ordinal) && l.Contains("[2005]", StringComparison.Ordinal));
            Assert.Single(lines, l => l.Contains("writes succeed again", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)); // no stack trace
            Assert.DoesNotContain(lines, l => l.Contains("failed a Write", StringComparison.Ordinal));
        }
        finally
        {
            await RunAsync("umount", "-l", mount);
        }
    }

    private static async Task<NbdClientException?> Record(Func<Task> write)
    {
        try
        {
            await write();
            return null;
        }
        catch (NbdClientException e)
        {
            return e;
        }
    }

    /// <summary>Runs a program to its end; its exit status, or -1 when there is no such program.</summary>
    internal static async Task<int> RunAsync(string file, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            await process.WaitForExitAsync();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1; // no such program
        }
    }
}
