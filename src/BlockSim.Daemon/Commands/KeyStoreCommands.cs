using System.CommandLine;
using BlockSim.Daemon.Service;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.Daemon.Commands;

/// <summary><c>blocksim keystore init</c>: makes a key store on purpose, where --key-store (or the data directory) says.</summary>
internal static class KeyStoreCommands
{
    public static Command Create()
    {
        var keystore = new Command("keystore", "Create the sealed key store (a directory, or one in etcd for a fleet), and manage its keyslots.");
        var init = new Command(
            "init",
            "Create a key store where --key-store says (default DATA-DIR/keystore), sealed by a new key file written 0600 at --key-file (default DATA-DIR/keystore.key), or by a passphrase from --passphrase-file or "
            + $"{CliContext.PassphraseVariable}. Refuses a place that holds a store already, and never overwrites a key file.");
        init.SetAction(r => CliContext.Run(r, () =>
        {
            var data = CliContext.Data(r);
            if (data.KeyStoreExists())
            {
                throw new KeyStoreException(KeyStoreErrors.AlreadyExists, $"{data.KeyStorePath} already holds a key store; it was left as it is. Open it with its key file (--key-file) or passphrase.");
            }

            var (unlocker, sealedBy) = NewUnlocker(r, data);
            try
            {
                using var store = SealedKeyStore.Create(data.KeyStoreMedium(), unlocker, DataDirectory.LocalPrincipal);
            }
            catch
            {
                if (unlocker is KeyFileUnlocker keyFile)
                {
                    File.Delete(keyFile.Path); // a key file that seals no store must not be left to meet the next run
                }

                throw;
            }

            CliContext.Print(
                r,
                new KeyStoreCreated(data.KeyStorePath, sealedBy, unlocker is KeyFileUnlocker k ? k.Path : null, SealedKeyStore.DefaultAlias, DataDirectory.LocalPrincipal),
                CliJson.Output.KeyStoreCreated,
                v => $"Created the key store in {v.KeyStore}, sealed by {v.SealedBy}, with the default key {v.DefaultKey} administered by {v.Administrator}."
                    + (v.KeyFile is null ? "" : $" Keep a copy of {v.KeyFile} somewhere safe: without it (or a passphrase slot) the store cannot be opened."));
            return ExitCodes.Ok;
        }));
        keystore.Subcommands.Add(init);
        keystore.Subcommands.Add(KeySlotCommands.Create());
        return keystore;
    }

    /// <summary>A passphrase when one is given, else a new key file (never over an existing file).</summary>
    private static (Unlocker Unlocker, string SealedBy) NewUnlocker(ParseResult r, DataDirectory data)
    {
        if (r.GetValue(CliContext.PassphraseFile) is { } passphraseFile)
        {
            return (new PassphraseUnlocker(File.ReadAllText(passphraseFile).TrimEnd('\r', '\n')), $"the passphrase in {passphraseFile}");
        }

        if (Environment.GetEnvironmentVariable(CliContext.PassphraseVariable) is { Length: > 0 } passphrase)
        {
            return (new PassphraseUnlocker(passphrase), $"the passphrase in {CliContext.PassphraseVariable}");
        }

        if (File.Exists(data.KeyFilePath))
        {
            throw new KeyStoreException(KeyStoreErrors.AlreadyExists, $"{data.KeyFilePath} exists, and a key file is never overwritten (it may seal another store). Give another --key-file, or move that one away.");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(data.KeyFilePath)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return (KeyFileUnlocker.Create(data.KeyFilePath), $"the key file {data.KeyFilePath}");
    }
}
