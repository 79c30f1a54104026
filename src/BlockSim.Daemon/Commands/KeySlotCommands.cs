using System.CommandLine;
using System.Globalization;
using BlockSim.Kmip;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim keystore slot list | add keyfile FILE | add passphrase | add kmip ... | remove SLOT</c>: the
/// ways to unseal the store, as cryptsetup's luksDump, luksAddKey and luksKillSlot are for LUKS. Adding
/// needs the store opened by a slot it has; the last slot is never removed; every change is audited.
/// </summary>
internal static class KeySlotCommands
{
    public const string NewPassphraseVariable = "BLOCKSIM_NEW_PASSPHRASE";

    public static Command Create()
    {
        var slot = new Command("slot", "List, add or remove the key store's keyslots (key files, passphrases, KMIP keys).");
        slot.Subcommands.Add(List());
        slot.Subcommands.Add(Add());
        slot.Subcommands.Add(Remove());
        return slot;
    }

    private static Command List()
    {
        var list = new Command("list", "List the keyslots. They are public (no secret is shown), so this needs no key file or passphrase.");
        list.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            using var medium = data.KeyStoreMedium(); // one connection to a fleet's etcd for the look and the read
            if (!medium.Exists())
            {
                throw new KeyStoreException(KeyStoreErrors.NotFound, $"No key store in {data.KeyStorePath}.");
            }

            var slots = SealedKeyStore.PeekSlots(medium);
            CliContext.Print(r, slots, CliJson.Output.IReadOnlyListKeySlotInfo, Table);
            return ExitCodes.Ok;
        }));
        return list;
    }

    private static string Table(IReadOnlyList<KeySlotInfo> slots) => slots.Aggregate(
        new TextTable("SLOT>", "TYPE", "ADDED", "DESCRIPTION"),
        (t, s) => t.Add(s.Index.ToString(CultureInfo.InvariantCulture), s.Type, s.Created is { } c ? c.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "-", s.Description)).ToString();

    private static Command Add()
    {
        var add = new Command("add", "Add a keyslot. The store must open first with a slot it has (its key file, --passphrase-file, or its kmip slot).");

        var keyFileArgument = new Argument<string>("FILE") { Description = "The key file: an existing 32-byte key file (0600), or a path where a new one is written (0600)." };
        var keyFile = new Command("keyfile", "Add a key-file slot.") { keyFileArgument };
        keyFile.SetAction(r => CliContext.Run(r, () =>
        {
            var path = Path.GetFullPath(r.GetValue(keyFileArgument)!);
            var created = !File.Exists(path);
            var unlocker = created ? KeyFileUnlocker.Create(path) : new KeyFileUnlocker(path);
            try
            {
                return AddSlot(r, unlocker, created ? $"a new key file written at {path} (0600): keep a copy somewhere safe" : null);
            }
            catch when (created)
            {
                File.Delete(path); // a key file that opens nothing must not be left behind
                throw;
            }
        }));

        var passphrase = new Command(
            "passphrase",
            $"Add a passphrase slot (Argon2id). The new passphrase comes from --new-passphrase-file, {NewPassphraseVariable}, or a prompt without echo, asked twice.");
        var newPassphraseFile = new Option<string?>("--new-passphrase-file") { Description = "Read the new passphrase from this file (its first line)." };
        passphrase.Options.Add(newPassphraseFile);
        passphrase.SetAction(r => CliContext.Run(r, () => AddSlot(r, new PassphraseUnlocker(NewPassphrase(r.GetValue(newPassphraseFile))), null)));

        var server = new Option<string>("--server") { Description = $"The KMIP server, HOST[:PORT] (default port {KmipEndpoint.DefaultPort}).", Required = true };
        var ca = new Option<string>("--ca") { Description = "The CA (PEM) the server's certificate must chain to; nothing else is trusted.", Required = true };
        var cert = new Option<string>("--cert") { Description = "This host's client certificate (PEM), which the server knows.", Required = true };
        var key = new Option<string>("--key") { Description = "The client certificate's private key (PEM). The slot records its path, never its content.", Required = true, HelpName = "FILE" };
        var objectId = new Option<string?>("--object-id") { Description = "The KMIP key (an AES-256 key, active, for Encrypt and Decrypt) to seal the slot with. Default: a new one is created and activated." };
        var kmip = new Command("kmip", "Add a slot whose key is held by a KMIP key manager: one KMIP Decrypt unseals the store, and no secret that opens it lies on the host.") { server, ca, cert, key, objectId };
        kmip.SetAction(r => CliContext.Run(r, () =>
        {
            (string Host, int Port) address;
            try
            {
                address = KmipEndpoint.ParseServer(r.GetValue(server)!);
            }
            catch (KmipConfigurationException e)
            {
                throw new KeyStoreException(KeyStoreErrors.Validation, $"--server: {e.Message}", e);
            }

            var endpoint = new KmipEndpoint(address.Host, address.Port, Path.GetFullPath(r.GetValue(ca)!), Path.GetFullPath(r.GetValue(cert)!), Path.GetFullPath(r.GetValue(key)!));
            var unlocker = KmipUnlocker.ForNewSlot(endpoint, r.GetValue(objectId));
            return AddSlot(r, unlocker, null);
        }));

        add.Subcommands.Add(keyFile);
        add.Subcommands.Add(passphrase);
        add.Subcommands.Add(kmip);
        return add;
    }

    private static int AddSlot(ParseResult r, Unlocker unlocker, string? note)
    {
        using var store = CliContext.OpenStore(r);
        var slot = store.AddSlot(unlocker, CliContext.Caller(r, store));
        CliContext.Print(r, slot, CliJson.Output.KeySlotInfo, s => $"Added slot {s.Index}: {s.Description}." + (note is null ? "" : $" It is {note}."));
        return ExitCodes.Ok;
    }

    private static Command Remove()
    {
        var index = new Argument<int>("SLOT") { Description = "The slot's number, as 'slot list' shows it." };
        var yes = new Option<bool>("--yes") { Description = "Confirm without a prompt." };
        var remove = new Command("remove", "Remove a keyslot (never the last one). Whatever opened that slot no longer opens the store.") { index, yes };
        remove.SetAction(r => CliContext.Run(r, () =>
        {
            using var store = CliContext.OpenStore(r);
            var number = r.GetValue(index);
            var slots = store.ListSlots();
            var shown = slots.FirstOrDefault(s => s.Index == number)?.Description ?? "(no such slot)";
            if (!CliContext.Confirm(r.GetValue(yes), $"WARNING: this removes slot {number} ({shown}) from {store.Location}: it no longer opens the store.", number.ToString(CultureInfo.InvariantCulture)))
            {
                return ExitCodes.Usage; // not confirmed, as for volume delete
            }

            var removed = store.RemoveSlot(number, CliContext.Caller(r, store));
            CliContext.Print(r, removed, CliJson.Output.KeySlotInfo, s => $"Removed slot {s.Index}: {s.Description}. {slots.Count - 1} slot{(slots.Count == 2 ? "" : "s")} left.");
            return ExitCodes.Ok;
        }));
        return remove;
    }

    /// <summary>The new passphrase: from a file, the environment, or typed twice without echo; never an argument (ps would show it).</summary>
    private static string NewPassphrase(string? file)
    {
        string passphrase;
        if (file is not null)
        {
            passphrase = File.ReadLines(file).FirstOrDefault() ?? "";
        }
        else if (Environment.GetEnvironmentVariable(NewPassphraseVariable) is { Length: > 0 } fromEnvironment)
        {
            passphrase = fromEnvironment;
        }
        else if (Console.IsInputRedirected)
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"Give the new passphrase with --new-passphrase-file or {NewPassphraseVariable} (there is no terminal to ask on).");
        }
        else
        {
            passphrase = CliContext.ReadHidden("New passphrase: ");
            if (CliContext.ReadHidden("Again: ") != passphrase)
            {
                throw new KeyStoreException(KeyStoreErrors.Validation, "The two passphrases differ; nothing was changed.");
            }
        }

        return passphrase.Length >= 8 ? passphrase : throw new KeyStoreException(KeyStoreErrors.Validation, "A passphrase needs at least 8 characters.");
    }
}
