using System.Text.RegularExpressions;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// The embedded default's files: a data directory (0700) with the sealed key store, the key file that
/// unseals it (0600), and the volumes. Created on first use, reused afterwards.
/// </summary>
internal sealed partial class DataDirectory
{
    public const string DefaultPath = "blocksim-data";

    public DataDirectory(string path)
    {
        Root = Path.GetFullPath(path);
    }

    public string Root { get; }

    public string KeyStorePath => Path.Combine(Root, "keystore");

    public string KeyFilePath => Path.Combine(Root, "keystore.key");

    public string VolumesPath => Path.Combine(Root, "volumes");

    public string DefaultSocket => Path.Combine(Root, "nbd.sock");

    public string VolumePath(string name) => Path.Combine(VolumesPath, name + ".vol");

    /// <summary>A volume (and export) name: 1 to 64 letters, digits, '.', '_' or '-', not starting with a punctuation mark.</summary>
    public static string CheckVolumeName(string name) => ValidVolumeName().IsMatch(name)
        ? name
        : throw new KeyStoreException("ValidationException", $"'{name}' is not a valid volume name: use 1 to 64 letters, digits, '.', '_' or '-'.");

    /// <summary>The local user, as the key store names principals.</summary>
    public static string LocalPrincipal => $"user:{Environment.UserName}";

    /// <summary>Opens the key store, creating it (with its key file and the default key) on the first run.</summary>
    public SealedKeyStore OpenOrCreateKeyStore(out bool created)
    {
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(Root, Private);
        Directory.CreateDirectory(VolumesPath, Private);
        created = !File.Exists(KeyFilePath);
        if (created)
        {
            return SealedKeyStore.Create(KeyStorePath, KeyFileUnlocker.Create(KeyFilePath), LocalPrincipal);
        }

        return SealedKeyStore.Open(KeyStorePath, new KeyFileUnlocker(KeyFilePath));
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex ValidVolumeName();
}
