using System.Text.Json;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>The key store's security rules as the CLI shows them: fail-closed audit, policy checks.</summary>
public class KeyStoreCliTests
{
    [Fact]
    public async Task With_an_unwritable_audit_log_key_changes_are_refused_and_not_made()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit); // creates the store
        var log = Path.Combine(temp.Path, "blocksim-data", "keystore", "audit.jsonl");
        File.Move(log, log + ".moved");
        Directory.CreateDirectory(log); // as chattr +i does for a root-owned log: every append fails

        foreach (var command in new[] { new[] { "key", "create", "--alias", "alias/ghost" }, ["key", "disable", "alias/blocksim/default"] })
        {
            var refused = await Cli(temp.Path, command);
            Assert.Equal(5, refused.Exit);
            Assert.Contains("AuditWriteFailed", refused.Output);
            Assert.Contains("nothing changed", refused.Output);
        }

        Directory.Delete(log);
        File.Move(log + ".moved", log);
        var list = await Cli(temp.Path, "key", "list");
        Assert.DoesNotContain("alias/ghost", list.Output);
        Assert.DoesNotContain("Disabled", list.Output);
        Assert.Equal(0, (await Cli(temp.Path, "audit", "verify")).Exit);
    }

    [Fact]
    public async Task Policy_put_refuses_a_lockout_and_a_misspelt_action_and_takes_AWS_shapes()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        var me = $"user:{Environment.UserName}";
        File.WriteAllText(temp.File("decrypt-only.json"), $$"""{"Statement":[{"Effect":"Allow","Principal":"{{me}}","Action":"Decrypt"}]}""");
        File.WriteAllText(temp.File("typo.json"), $$"""{"Statement":[{"Effect":"Allow","Principal":"{{me}}","Action":["*","Decryptt"]}]}""");
        File.WriteAllText(temp.File("aws.json"), """
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Principal":{"AWS":["ME"]},"Action":"kms:*","Resource":"*"},
              {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Condition":{"StringEquals":{"kms:EncryptionContext:volumeId":["a","b"]}}}]}
            """.Replace("ME", me, StringComparison.Ordinal));

        var lockout = await Cli(temp.Path, "policy", "put", "alias/blocksim/default", "decrypt-only.json");
        Assert.Equal(2, lockout.Exit);
        Assert.Contains("--bypass-lockout-check", lockout.Output);
        var typo = await Cli(temp.Path, "policy", "put", "alias/blocksim/default", "typo.json");
        Assert.Equal(2, typo.Exit);
        Assert.Contains("$.Statement[0].Action[1]: unknown action 'Decryptt'", typo.Output);
        Assert.Equal(0, (await Cli(temp.Path, "key", "describe", "alias/blocksim/default")).Exit); // not locked out

        var aws = await Cli(temp.Path, "policy", "put", "alias/blocksim/default", "aws.json");
        Assert.Equal(0, aws.Exit);
        Assert.DoesNotContain("   at ", aws.Output);
        Assert.Equal(0, (await Cli(temp.Path, "policy", "test", "alias/blocksim/default", "--principal", "user:bob", "--action", "Decrypt", "--context", "volumeId=b")).Exit);
        Assert.Equal(4, (await Cli(temp.Path, "policy", "test", "alias/blocksim/default", "--principal", "user:bob", "--action", "Decrypt", "--context", "volumeId=c")).Exit);

        Assert.Equal(0, (await Cli(temp.Path, "policy", "put", "alias/blocksim/default", "decrypt-only.json", "--bypass-lockout-check")).Exit);
        Assert.Equal(4, (await Cli(temp.Path, "key", "describe", "alias/blocksim/default")).Exit); // as asked
    }

    [Fact]
    public async Task Policy_test_needs_GetKeyPolicy_and_leaves_an_audit_record()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        var me = $"user:{Environment.UserName}";
        var log = Path.Combine(temp.Path, "blocksim-data", "keystore", "audit.jsonl");

        var probe = await Cli(temp.Path, "policy", "test", "alias/blocksim/default", "--principal", me, "--action", "Decrypt", "--as", "user:mallory");
        Assert.Equal(4, probe.Exit);
        Assert.Contains("AccessDeniedException", probe.Output);
        Assert.DoesNotMatch("(?m)^(allowed|denied)$", probe.Output); // no answer
        var refused = JsonDocument.Parse(File.ReadLines(log).Last()).RootElement;
        Assert.Equal("TestKeyPolicy", refused.GetProperty("eventName").GetString());
        Assert.Equal("user:mallory", refused.GetProperty("userIdentity").GetProperty("principal").GetString());
        Assert.Equal("AccessDeniedException", refused.GetProperty("errorCode").GetString());

        Assert.Equal(0, (await Cli(temp.Path, "policy", "test", "alias/blocksim/default", "--principal", me, "--action", "Decrypt")).Exit);
        var answered = JsonDocument.Parse(File.ReadLines(log).Last()).RootElement;
        Assert.Equal("TestKeyPolicy", answered.GetProperty("eventName").GetString());
        Assert.Equal("allowed", answered.GetProperty("additionalEventData").GetProperty("answer").GetString());
    }

    [Fact]
    public async Task A_key_whose_stored_policy_no_longer_parses_is_refused_plainly_until_its_creator_replaces_it()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        var me = $"user:{Environment.UserName}";
        var old = $$"""{"Statement":[{"Effect":"Allow","Principal":"{{me}}","Action":["*","Decryptt"]}]}""";
        var data = Path.Combine(temp.Path, "blocksim-data");
        using (var store = SealedKeyStore.Open(Path.Combine(data, "keystore"), new KeyFileUnlocker(Path.Combine(data, "keystore.key"))))
        {
            store.StorePolicyAsAnOlderVersionMight(SealedKeyStore.DefaultAlias, old, forgetCreator: true); // as a store from before strict parsing
        }

        var describe = await Cli(temp.Path, "key", "describe", "alias/blocksim/default");
        Assert.Equal(4, describe.Exit);
        Assert.Contains("KMSInvalidStateException", describe.Output);
        Assert.Contains("$.Statement[0].Action[1]: unknown action 'Decryptt'", describe.Output);
        Assert.Contains("blocksim policy put", describe.Output);
        Assert.DoesNotContain("   at ", describe.Output);
        Assert.Equal(4, (await Cli(temp.Path, "policy", "get", "alias/blocksim/default", "--as", "user:mallory")).Exit);

        var get = await Cli(temp.Path, "policy", "get", "alias/blocksim/default");
        Assert.Equal(0, get.Exit);
        Assert.Contains(old, get.Output);
        File.WriteAllText(temp.File("fixed.json"), old.Replace(",\"Decryptt\"", "", StringComparison.Ordinal));
        Assert.Equal(0, (await Cli(temp.Path, "policy", "put", "alias/blocksim/default", "fixed.json")).Exit);
        Assert.Equal(0, (await Cli(temp.Path, "key", "describe", "alias/blocksim/default")).Exit);
        Assert.Equal(0, (await Cli(temp.Path, "audit", "verify")).Exit);
    }

    internal static async Task<(int Exit, string Output)> Cli(string directory, params string[] arguments)
    {
        await using var process = DaemonProcess.Start(directory, arguments);
        var exit = await process.WaitForExitAsync();
        return (exit, process.Output);
    }
}
