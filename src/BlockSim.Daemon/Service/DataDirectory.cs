using System.Text.RegularExpressions;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.Daemon.Service;

/// <summary>
/// The embedded default's files: a data directory (0700) with the sealed key store, the key file that
/// unseals it (0600), the volumes, and their snapshots. Created on first use, reused afterwards.
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

    /// <summary>The daemon's admin socket (the key store's operations for local administrators).</summary>
    public string DefaultControlSocket => Path.Combine(Root, "admin.sock");

    public string VolumePath(string name) => Path.Combine(VolumesPath, name + ".vol");

    /// <summary>
    /// Snapshots (NAME@LABEL.vol) beside the volumes, not among them: serve with no configuration serves every
    /// .vol file in the volumes folder, and a snapshot must never be served (or listed) as a volume.
    /// </summary>
    public string SnapshotsPath => Path.Combine(Root, "snapshots");

    public string SnapshotPath(string volume, string label) => Path.Combine(SnapshotsPath, $"{volume}@{label}.vol");

    /// <summary>
    /// A volume (and export) name: 1 to 64 letters, digits, '.', '_' or '-', not starting with a punctuation
    /// mark; anything else is an <see cref="InvalidVolumeNameException"/>.
    /// </summary>
    public static string CheckVolumeName(string name) => ValidVolumeName().IsMatch(name)
        ? name
        : throw new InvalidVolumeNameException(name.StartsWith("rbd:", StringComparison.Ordinal)
            ? $"'{name}' names a volume on Ceph RBD, which is not taken here: give a plain name (1 to 64 letters, digits, '.', '_' or '-'). Snapshots of an RBD volume are Ceph's own (rbd snap create POOL/IMAGE@LABEL)."
            : $"'{name}' is not a valid volume name: use 1 to 64 letters, digits, '.', '_' or '-'.");

    /// <summary>
    /// A snapshot's name, NAME@LABEL: the volume name as <see cref="CheckVolumeName"/> checks it, and a label
    /// by the same rules (so it is a plain file name, never a path); either broken is an <see cref="InvalidVolumeNameException"/>.
    /// </summary>
    public static (string Volume, string Label) CheckSnapshotName(string name)
    {
        var at = name.IndexOf('@', StringComparison.Ordinal);
        if (at < 0)
        {
            throw new InvalidVolumeNameException($"'{name}' does not name a snapshot: give the volume's name, '@' and a label, e.g. data@before-upgrade.");
        }

        var volume = CheckVolumeName(name[..at]);
        var label = name[(at + 1)..];
        return ValidVolumeName().IsMatch(label)
            ? (volume, label)
            : throw new InvalidVolumeNameException($"'{label}' is not a valid snapshot label: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (the rules for volume names).");
    }

    /// <summary>The local user, as the key store names principals.</summary>
    public static string LocalPrincipal => $"user:{Environment.UserName}";

    /// <summary>
    /// Opens the key store, creating it (with its key file and the default key) only where there is none
    /// yet. A key file is never made beside an existing store: one made there could never open it, and
    /// the store would look replaced. A store without its key file (or a key file without its store) is
    /// an error that names what is missing, and nothing is written.
    /// </summary>
    public SealedKeyStore OpenOrCreateKeyStore(out bool created)
    {
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        created = false;
        if (SealedKeyStore.Exists(KeyStorePath))
        {
            if (!File.Exists(KeyFilePath))
            {
                throw MissingKeyFile();
            }

            var store = SealedKeyStore.Open(KeyStorePath, new KeyFileUnlocker(KeyFilePath));
            try
            {
                Directory.CreateDirectory(VolumesPath, Private);
                return store;
            }
            catch
            {
                store.Dispose();
                throw;
            }
        }

        if (File.Exists(KeyFilePath))
        {
            throw new KeyStoreException(KeyStoreErrors.NotFound, $"There is a key file {KeyFilePath} but no key store in {KeyStorePath} (neither keystore.json nor keystore.backup.json): put the store back from a backup. To start afresh with a new, empty store instead, move the key file away too.");
        }

        if (Directory.Exists(KeyStorePath) && Directory.EnumerateFileSystemEntries(KeyStorePath).Any())
        {
            throw new KeyStoreException(KeyStoreErrors.NotFound, $"{KeyStorePath} holds files but no key store (neither keystore.json nor keystore.backup.json): put the store back from a backup, or move that directory away to start afresh.");
        }

        if (File.Exists(Root))
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"The data directory {Root} is a file: give a directory with --data-dir (\"dataDir\" in the configuration); a missing one is created.");
        }

        Directory.CreateDirectory(Root, Private);
        Directory.CreateDirectory(VolumesPath, Private);
        var unlocker = KeyFileUnlocker.Create(KeyFilePath);
        try
        {
            var store = SealedKeyStore.Create(KeyStorePath, unlocker, LocalPrincipal);
            created = true;
            return store;
        }
        catch
        {
            File.Delete(KeyFilePath); // a key file that seals no store must not be left to meet the next run
            throw;
        }
    }

    /// <summary>The store is there, its key file is not: say where it was expected and that nothing else opens the store.</summary>
    public KeyStoreException MissingKeyFile(string? alternative = null) => new(
        KeyStoreErrors.KeyFileMissing,
        $"The key file {KeyFilePath} is missing: the key store in {KeyStorePath} is sealed by it and cannot be opened without it. Put it back from your backup (then chmod 600 {KeyFilePath}){alternative}. Nothing was written; a new key file would not open this store.");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex ValidVolumeName();
}
