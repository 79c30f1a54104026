using System.CommandLine;
using BlockSim.KeyStore;

namespace BlockSim.Daemon.Commands;

/// <summary><c>blocksim key ...</c>: master keys in the sealed store.</summary>
internal static class KeyCommands
{
    public static Command Create()
    {
        var key = new Command("key", "Manage master keys: create, list, describe, enable, disable, rotate, schedule or cancel deletion, alias.");
        var keyArgument = () => new Argument<string>("key") { Description = "Key id or alias (alias/...)." };

        var description = new Option<string>("--description") { Description = "What the key is for.", DefaultValueFactory = _ => "" };
        var alias = new Option<string?>("--alias") { Description = "An alias for the new key, alias/NAME." };
        var create = new Command("create", "Create a customer-managed key; you become its administrator.") { description, alias };
        create.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            var created = admin.CreateKey(r.GetValue(description)!, r.GetValue(alias));
            CliContext.Print(r, created, CliJson.Output.KeyDescription, Describe);
            return ExitCodes.Ok;
        }));

        var list = new Command("list", "List keys and their states.");
        list.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            var keys = admin.ListKeys();
            CliContext.Print(r, keys, CliJson.Output.IReadOnlyListKeyDescription, Table);
            return ExitCodes.Ok;
        }));

        var describeArgument = keyArgument();
        var describe = new Command("describe", "Show a key (never its material).") { describeArgument };
        describe.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            CliContext.Print(r, admin.DescribeKey(r.GetValue(describeArgument)!), CliJson.Output.KeyDescription, Describe);
            return ExitCodes.Ok;
        }));

        key.Subcommands.Add(create);
        key.Subcommands.Add(list);
        key.Subcommands.Add(describe);
        key.Subcommands.Add(Simple("enable", "Enable a disabled key.", keyArgument(), (a, k) => a.EnableKey(k)));
        key.Subcommands.Add(Simple("disable", "Disable a key: every use is refused (volumes under it cannot be attached) until it is enabled.", keyArgument(), (a, k) => a.DisableKey(k)));
        key.Subcommands.Add(Simple("cancel-deletion", "Cancel a scheduled deletion; the key comes back disabled.", keyArgument(), (a, k) => a.CancelKeyDeletion(k)));

        var rotateArgument = keyArgument();
        var minimum = new Option<int?>("--min-decrypt-version") { Description = "Refuse to decrypt with versions older than this (1 to the new version)." }.InRange(1, int.MaxValue);
        var rotate = new Command("rotate", "Add a new key-material version; old versions still decrypt. Re-wrap volumes with 'volume rewrap'.") { rotateArgument, minimum };
        rotate.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            CliContext.Print(r, admin.RotateKey(r.GetValue(rotateArgument)!, r.GetValue(minimum)), CliJson.Output.KeyDescription, Describe);
            return ExitCodes.Ok;
        }));

        var deleteArgument = keyArgument();
        var days = new Option<int>("--days") { Description = "Waiting period, 7 to 30 days.", DefaultValueFactory = _ => SealedKeyStore.MaximumDeletionDays }.InRange(SealedKeyStore.MinimumDeletionDays, SealedKeyStore.MaximumDeletionDays);
        var yes = new Option<bool>("--yes") { Description = "Confirm without a prompt." };
        var schedule = new Command("schedule-deletion", "Schedule a key's destruction (crypto-shredding of every volume under it).") { deleteArgument, days, yes };
        schedule.SetAction(r => CliContext.Run(r, () =>
        {
            var id = r.GetValue(deleteArgument)!;
            // Says exactly what the re-key at destruction does and does not reach (SealedKeyStore.ReKey.cs).
            var warning = $"WARNING: when the waiting period of {r.GetValue(days)} days ends, key {id} is destroyed and every volume whose key it wraps becomes unreadable for good through this store (both of its copies). "
                + "The destruction re-keys the store: a new root key, and a new key file in place of the old one, so a copy of the store made before it does not open with the key file there is then. "
                + "A passphrase slot cannot be re-sealed without its passphrase: it is removed at destruction unless the store is opened with it (add it again afterwards). "
                + "Copies made before destruction (backups) still hold the key and still open with the old key file or the passphrase: destroy them, and old copies of the key file, too. It can be cancelled until then.";
            if (!CliContext.Confirm(r.GetValue(yes), warning, id))
            {
                return ExitCodes.Usage;
            }

            using var admin = CliContext.KeyAdministration(r);
            CliContext.Print(r, admin.ScheduleKeyDeletion(id, r.GetValue(days)), CliJson.Output.KeyDescription, Describe);
            return ExitCodes.Ok;
        }));
        key.Subcommands.Add(rotate);
        key.Subcommands.Add(schedule);

        var aliasName = new Argument<string>("alias") { Description = "alias/NAME" };
        var aliasTarget = keyArgument();
        var aliasCommand = new Command("alias", "Give a key another alias.") { aliasName, aliasTarget };
        aliasCommand.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            CliContext.Print(r, admin.CreateAlias(r.GetValue(aliasName)!, r.GetValue(aliasTarget)!), CliJson.Output.KeyDescription, Describe);
            return ExitCodes.Ok;
        }));
        key.Subcommands.Add(aliasCommand);
        return key;
    }

    private static string Table(IReadOnlyList<KeyDescription> keys) => keys.Count == 0
        ? "No keys."
        : keys.Aggregate(new TextTable("KEY ID", "STATE", "VERSION>", "ALIASES", "DESCRIPTION"), (t, k) => t.Add(k.KeyId, k.State.ToString(), $"v{k.CurrentVersion}", string.Join(",", k.Aliases), k.Description)).ToString();

    public static string Describe(KeyDescription k) =>
        $"key {k.KeyId}\n  state: {k.State}{(k.DeletionDate is { } d ? $" (destroyed on {d:u})" : "")}\n  aliases: {string.Join(", ", k.Aliases)}\n  description: {k.Description}\n  created: {k.Created:u}\n  version: {k.CurrentVersion} (decrypts from version {k.MinimumDecryptVersion})";

    private static Command Simple(string name, string description, Argument<string> keyArgument, Func<Admin.IKeyAdministration, string, KeyDescription> action)
    {
        var command = new Command(name, description) { keyArgument };
        command.SetAction(r => CliContext.Run(r, () =>
        {
            using var admin = CliContext.KeyAdministration(r);
            CliContext.Print(r, action(admin, r.GetValue(keyArgument)!), CliJson.Output.KeyDescription, Describe);
            return ExitCodes.Ok;
        }));
        return command;
    }
}
