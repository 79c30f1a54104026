using System.Text.Json;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// Key-store crash safety: `key create`, `key rotate` and `volume rewrap` are killed with SIGKILL at random
/// moments. Afterwards the store must open, hold either the old or the new state (never a half state), the
/// volume must still unwrap (attach), and the audit log must verify. Rounds: BLOCKSIM_CRASH_ROUNDS (default 12).
/// </summary>
public class KeyStoreCrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Killing_key_operations_leaves_the_old_or_the_new_state()
    {
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("BLOCKSIM_CRASH_ROUNDS"), out var n) ? n : 12;
        var seed = Environment.TickCount;
        var random = new Random(seed);
        output.WriteLine($"seed {seed}, {rounds} rounds");
        using var temp = new TempDirectory();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, await RunAsync(temp.Path, "volume", "create", "v", "--size", "1M"));
        var typical = (int)clock.ElapsedMilliseconds; // start-up plus one store write: kill around that point
        var (killed, keptOld, tookNew) = (0, 0, 0);
        for (var round = 0; round < rounds; round++)
        {
            var (keysBefore, versionBefore) = await StateAsync(temp.Path);
            string[] operation = (round % 3) switch
            {
                0 => ["key", "create", "--description", $"round {round}"],
                1 => ["key", "rotate", "alias/blocksim/default"],
                _ => ["volume", "rewrap", "v"],
            };

            await using (var process = DaemonProcess.Start(temp.Path, operation))
            {
                await Task.Delay(random.Next(typical / 4, typical));
                if (!process.HasExited)
                {
                    await process.KillAsync();
                    killed++;
                }
                else
                {
                    await process.WaitForExitAsync();
                }
            }

            var (keysAfter, versionAfter) = await StateAsync(temp.Path);
            Assert.InRange(keysAfter, keysBefore, keysBefore + 1);
            Assert.InRange(versionAfter, versionBefore, versionBefore + 1);
            if (keysAfter == keysBefore && versionAfter == versionBefore)
            {
                keptOld++;
            }
            else
            {
                tookNew++;
            }

            Assert.Equal(0, await RunAsync(temp.Path, "audit", "verify"));
        }

        output.WriteLine($"{killed} of {rounds} operations killed before they finished ({keptOld} rounds ended in the old state, {tookNew} in the new); the store opened, held one state and verified every time");
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none");
        await using var client = await BlockSim.Nbd.Client.NbdClient.ConnectTcpAsync("127.0.0.1", await daemon.PortAsync(), new BlockSim.Nbd.Client.NbdClientOptions { ExportName = "v" });
        await client.FlushAsync(); // the volume key still unwraps after all of it
    }

    /// <summary>How many keys the store holds, and the default key's newest version.</summary>
    private static async Task<(int Keys, int Version)> StateAsync(string directory)
    {
        await using var list = DaemonProcess.Start(directory, "--json", "key", "list");
        Assert.Equal(0, await list.WaitForExitAsync());
        await using var describe = DaemonProcess.Start(directory, "--json", "key", "describe", "alias/blocksim/default");
        Assert.Equal(0, await describe.WaitForExitAsync());
        var keys = JsonDocument.Parse(list.Output).RootElement.GetArrayLength();
        var version = JsonDocument.Parse(describe.Output).RootElement.GetProperty("currentVersion").GetInt32();
        return (keys, version);
    }

    private static async Task<int> RunAsync(string directory, params string[] arguments)
    {
        await using var process = DaemonProcess.Start(directory, arguments);
        return await process.WaitForExitAsync();
    }
}
