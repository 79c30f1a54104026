using System.Text.Json;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary><c>blocksim keystore slot</c> for key files and passphrases: each kind added and used, the last slot kept, confirmation asked, and a kill -9 mid-add leaving the old slots working.</summary>
public sealed class KeySlotCliTests(ITestOutputHelper log)
{
    private async Task<(int Exit, string Output)> Run(string directory, params string[] arguments)
    {
        var result = await Cli.RunAsync(directory, arguments);
        log.WriteLine($"$ blocksim {string.Join(' ', arguments)} -> {result.Exit}\n{result.Output}");
        return result;
    }

    [Fact]
    public async Task Key_file_and_passphrase_slots_are_added_used_and_removed_down_to_the_last()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Run(temp.Path, "volume", "create", "db", "--size", "1M")).Exit);
        File.WriteAllText(temp.File("pass"), "a long enough passphrase\n");
        File.WriteAllText(temp.File("wrong"), "not the passphrase\n");

        var passphrase = await Run(temp.Path, "keystore", "slot", "add", "passphrase", "--new-passphrase-file", temp.File("pass"));
        Assert.True(passphrase.Exit == 0, passphrase.Output);
        Assert.Contains("Added slot 1: passphrase (Argon2id m=65536 KiB, t=3, p=4)", passphrase.Output);
        var keyFile = await Run(temp.Path, "keystore", "slot", "add", "keyfile", temp.File("second.key"));
        Assert.True(keyFile.Exit == 0, keyFile.Output);
        Assert.Contains("a new key file written at", keyFile.Output);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(temp.File("second.key")));

        var listed = await Run(temp.Path, "--json", "keystore", "slot", "list");
        Assert.Equal(["keyfile", "passphrase", "keyfile"], JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().Select(s => s.GetProperty("type").GetString()));

        // Each slot opens the store: the passphrase, the second key file; a wrong passphrase is exit 4.
        Assert.Equal(0, (await Run(temp.Path, "key", "list", "--passphrase-file", temp.File("pass"))).Exit);
        Assert.Equal(0, (await Run(temp.Path, "key", "list", "--key-file", temp.File("second.key"))).Exit);
        var wrong = await Run(temp.Path, "key", "list", "--passphrase-file", temp.File("wrong"));
        Assert.Equal(4, wrong.Exit);
        Assert.Contains("Wrong passphrase", wrong.Output);

        // Not confirmed without a terminal or --yes: nothing removed.
        var unconfirmed = await Run(temp.Path, "keystore", "slot", "remove", "1");
        Assert.Equal(2, unconfirmed.Exit);
        Assert.Contains("pass --yes", unconfirmed.Output);
        Assert.Equal(0, (await Run(temp.Path, "keystore", "slot", "remove", "1", "--yes")).Exit);
        Assert.Equal(4, (await Run(temp.Path, "key", "list", "--passphrase-file", temp.File("pass"))).Exit);
        Assert.Equal(0, (await Run(temp.Path, "keystore", "slot", "remove", "0", "--yes")).Exit);

        // Only the second key file is left: it opens the store; removing it is refused.
        var last = await Run(temp.Path, "keystore", "slot", "remove", "0", "--yes", "--key-file", temp.File("second.key"));
        Assert.Equal(2, last.Exit);
        Assert.Contains("last slot", last.Output);
        var gone = await Run(temp.Path, "keystore", "slot", "remove", "5", "--yes", "--key-file", temp.File("second.key"));
        Assert.Equal(3, gone.Exit);
        Assert.Equal(0, (await Run(temp.Path, "audit", "verify", "--key-file", temp.File("second.key"))).Exit);

        var audit = await Run(temp.Path, "--json", "audit", "show", "--tail", "100", "--key-file", temp.File("second.key"));
        var events = audit.Output.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, events.Count(r => r.GetProperty("eventName").GetString() == "AddKeySlot" && !r.TryGetProperty("errorCode", out _)));
        Assert.Equal(2, events.Count(r => r.GetProperty("eventName").GetString() == "RemoveKeySlot" && !r.TryGetProperty("errorCode", out _)));
        Assert.DoesNotContain("a long enough passphrase", audit.Output);
    }

    [Fact]
    public async Task A_kill_during_slot_add_leaves_the_store_opening_by_its_old_slots()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Run(temp.Path, "volume", "create", "db", "--size", "1M")).Exit);
        File.WriteAllText(temp.File("pass"), "a long enough passphrase\n");
        // One add to the end, timed, then kills spread over that time: startup, Argon2, the store write.
        var timer = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(0, (await Run(temp.Path, "keystore", "slot", "add", "passphrase", "--new-passphrase-file", temp.File("pass"))).Exit);
        var whole = timer.Elapsed;
        var killed = 0;
        for (var tenth = 1; tenth <= 9; tenth++)
        {
            var delay = whole * tenth / 10;
            await using (var adding = DaemonProcess.Start(temp.Path, "keystore", "slot", "add", "passphrase", "--new-passphrase-file", temp.File("pass")))
            {
                await Task.Delay(delay);
                if (!adding.HasExited)
                {
                    await adding.KillAsync();
                    killed++;
                }
            }

            var opens = await Run(temp.Path, "key", "list");
            Assert.True(opens.Exit == 0, $"after a kill at {delay.TotalMilliseconds:0} ms of {whole.TotalMilliseconds:0}: {opens.Output}");
            var verified = await Run(temp.Path, "audit", "verify");
            Assert.True(verified.Exit == 0, $"after a kill at {delay.TotalMilliseconds:0} ms of {whole.TotalMilliseconds:0}: {verified.Output}");
        }

        Assert.True(killed >= 4, $"only {killed} of 9 adds were still running when killed (a whole add took {whole.TotalMilliseconds:0} ms)");
        var slots = JsonDocument.Parse((await Run(temp.Path, "--json", "keystore", "slot", "list")).Output).RootElement;
        Assert.Equal("keyfile", slots[0].GetProperty("type").GetString());
        Assert.All(slots.EnumerateArray().Skip(1), s => Assert.Equal("passphrase", s.GetProperty("type").GetString())); // added whole or not at all
    }
}
