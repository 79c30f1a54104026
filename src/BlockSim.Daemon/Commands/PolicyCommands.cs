using System.CommandLine;
using System.Text.Json;

namespace BlockSim.Daemon.Commands;

/// <summary><c>blocksim policy ...</c> and <c>blocksim grant ...</c>: who may use a key.</summary>
internal static class PolicyCommands
{
    public static Command CreatePolicy()
    {
        var policy = new Command("policy", "Read, replace or test a key's policy.");
        var getKey = new Argument<string>("key");
        var get = new Command("get", "Print a key's policy (JSON).") { getKey };
        get.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            var policyText = admin.GetKeyPolicy(r.GetValue(getKey)!);
            if (r.GetValue(CliContext.Json))
            {
                // As kms get-key-policy: the key's one policy is named "default"; here it is the document, not a string of it.
                using var document = JsonDocument.Parse(policyText);
                CliContext.Print(r, new KeyPolicyResult(r.GetValue(getKey)!, "default", document.RootElement.Clone()), CliJson.Output.KeyPolicyResult, _ => policyText);
            }
            else
            {
                Console.WriteLine(policyText); // as it is, so 'policy get K > p.json' then 'policy put K p.json' round-trips
            }

            return ExitCodes.Ok;
        }));

        var putKey = new Argument<string>("key");
        var file = new Argument<string>("file") { Description = "The policy JSON file." };
        var bypass = new Option<bool>("--bypass-lockout-check")
        {
            Description = "Accept a policy that would leave you unable to replace it again (a lockout); refused without this.",
        };
        var put = new Command("put", "Replace a key's policy with the JSON in FILE.") { putKey, file, bypass };
        put.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            admin.PutKeyPolicy(r.GetValue(putKey)!, File.ReadAllText(r.GetValue(file)!), r.GetValue(bypass));
            CliContext.Print(r, new PolicyReplaced(r.GetValue(putKey)!), CliJson.Output.PolicyReplaced, p => $"policy of {p.Key} replaced");
            return ExitCodes.Ok;
        }));

        var testKey = new Argument<string>("key");
        var principal = new Option<string>("--principal") { Required = true, Description = "Who asks, e.g. user:alice." };
        var action = new Option<string>("--action") { Required = true, Description = "e.g. Decrypt, GenerateDataKey, DisableKey." };
        var context = new Option<string[]>("--context") { Description = "Encryption context FIELD=VALUE (repeatable)." };
        var invokedBy = new Option<string?>("--invoked-by") { Description = "The service acting for the principal, e.g. blocksim-daemon." };
        var client = new Option<string?>("--client") { Description = "The NBD client the service acts for, e.g. CN=alice or anonymous." };
        var source = new Option<string?>("--source-address") { Description = "Where the client connects from, e.g. 192.0.2.7." };
        var test = new Command("test", "Would PRINCIPAL be allowed ACTION on the key (policy and grants)? Exit code 0 yes, 4 no. You need GetKeyPolicy on the key; the question and answer are audited.") { testKey, principal, action, context, invokedBy, client, source };
        test.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            var allowed = admin.TestPolicy(r.GetValue(testKey)!, new KeyStore.KeyRequestContext(r.GetValue(principal)!, r.GetValue(invokedBy), r.GetValue(source), r.GetValue(client)), r.GetValue(action)!, CliContext.ParseContext(r.GetValue(context) ?? []));
            CliContext.Print(r, new PolicyTested(r.GetValue(testKey)!, r.GetValue(principal)!, r.GetValue(action)!, allowed), CliJson.Output.PolicyTested, a => a.Allowed ? "allowed" : "denied");
            return allowed ? ExitCodes.Ok : ExitCodes.Denied;
        }));

        policy.Subcommands.Add(get);
        policy.Subcommands.Add(put);
        policy.Subcommands.Add(test);
        return policy;
    }

    public static Command CreateGrant()
    {
        var grant = new Command("grant", "Narrow, revocable permissions on a key.");
        var key = new Argument<string>("key");
        var grantee = new Option<string>("--grantee") { Required = true, Description = "Who gets the permission." };
        var operations = new Option<string[]>("--operation") { Required = true, Description = "e.g. Decrypt (repeatable)." };
        var context = new Option<string[]>("--context") { Description = "Only with this encryption context FIELD=VALUE (repeatable)." };
        var retiring = new Option<string?>("--retiring-principal") { Description = "Who may retire the grant." };
        var clients = new Option<string[]>("--client")
        {
            Description = "Only for requests made for this NBD client identity, e.g. CN=alice or anonymous (repeatable).",
        };
        var create = new Command("create", "Create a grant.") { key, grantee, operations, context, retiring, clients };
        create.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            var created = admin.CreateGrant(r.GetValue(key)!, r.GetValue(grantee)!, r.GetValue(operations)!, CliContext.ParseContext(r.GetValue(context) ?? []), r.GetValue(retiring), r.GetValue(clients) ?? []);
            CliContext.Print(r, created, CliJson.Output.GrantInfo, g => $"grant {g.GrantId}: {g.Grantee} may {string.Join(",", g.Operations)} with key {g.KeyId}{ForClients(g)}");
            return ExitCodes.Ok;
        }));

        var listKey = new Argument<string>("key");
        var list = new Command("list", "List a key's grants.") { listKey };
        list.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            CliContext.Print(r, admin.ListGrants(r.GetValue(listKey)!), CliJson.Output.IReadOnlyListGrantInfo, all => all.Count == 0
                ? "No grants."
                : all.Aggregate(new TextTable("GRANT ID", "GRANTEE", "OPERATIONS", "CONTEXT", "CLIENTS"), (t, g) => t.Add(
                    g.GrantId,
                    g.Grantee,
                    string.Join(",", g.Operations),
                    g.EncryptionContextEquals.Count == 0 ? "-" : string.Join(",", g.EncryptionContextEquals.Select(p => $"{p.Key}={p.Value}")),
                    g.Clients.Count == 0 ? "any" : string.Join(",", g.Clients))).ToString());
            return ExitCodes.Ok;
        }));

        var id = new Argument<string>("grant-id");
        var retire = new Command("retire", "Retire a grant.") { id };
        retire.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            admin.RetireGrant(r.GetValue(id)!);
            CliContext.Print(r, new GrantRetired(r.GetValue(id)!), CliJson.Output.GrantRetired, g => $"grant {g.GrantId} retired");
            return ExitCodes.Ok;
        }));

        grant.Subcommands.Add(create);
        grant.Subcommands.Add(list);
        grant.Subcommands.Add(retire);
        return grant;
    }

    private static string ForClients(KeyStore.GrantInfo grant) => grant.Clients.Count == 0 ? "" : $" for clients {string.Join(", ", grant.Clients)}";
}
