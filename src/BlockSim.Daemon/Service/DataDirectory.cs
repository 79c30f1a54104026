using System.Text.RegularExpressions;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Etcd;
using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.Daemon.Service;

/// <summary>
/// The embedded default's files: a data directory (0700) with the sealed key store, the key file that
/// unseals it (0600), the volumes, and their snapshots. Created on first use, reused afterwards. The key
/// store may live elsewhere instead (<c>--key-store</c>: another directory, or etcd://... shared by a
/// fleet), and its key file too (<c>--key-file</c>).
/// </summary>
internal sealed partial class DataDirectory
{
    public const string DefaultPath = "blocksim-data";

    /// <param name="keyStore">Where the key store is: null for DATA-DIR/keystore, a directory, or etcd://HOST:PORT[,...]/PREFIX.</param>
    /// <param name="keyFile">The key file that unseals it: null for DATA-DIR/keystore.key.</param>
    /// <param name="keyStoreTls">TLS to the key store's etcd; null for plain gRPC.</param>
    public DataDirectory(string path, string? keyStore = null, string? keyFile = null, EtcdTls? keyStoreTls = null)
    {
        KeyStoreTls = keyStoreTls;
        Root = Path.GetFullPath(path);
        SharedKeyStore = keyStore is not null && EtcdStoreAddress.IsEtcd(keyStore) ? EtcdStoreAddress.Parse(keyStore) : null;
        KeyStorePath = SharedKeyStore?.ToString() ?? Path.GetFullPath(keyStore ?? Path.Combine(Root, "keystore"));
        KeyFilePath = Path.GetFullPath(keyFile ?? Path.Combine(Root, "keystore.key"));
    }

    public string Root { get; }

    /// <summary>The key store's directory, or its etcd address.</summary>
    public string KeyStorePath { get; }

    /// <summary>The key store in etcd, one for a fleet; null when it is a directory on this host.</summary>
    public EtcdStoreAddress? SharedKeyStore { get; }

    public string KeyFilePath { get; }

    /// <summary>TLS to the key store's etcd, when given.</summary>
    public EtcdTls? KeyStoreTls { get; }

    /// <summary>The key store's medium: its directory, or a client of its etcd cluster.</summary>
    public IKeyStoreMedium KeyStoreMedium() =>
        SharedKeyStore is { } etcd ? new EtcdKeyStoreMedium(etcd, KeyStoreTls) : new DirectoryKeyStoreMedium(KeyStorePath);

    /// <summary>True when the key store is there (a copy in its directory, or its key in etcd, which is asked).</summary>
    public bool KeyStoreExists()
    {
        if (SharedKeyStore is null)
        {
            return SealedKeyStore.Exists(KeyStorePath);
        }

        using var medium = KeyStoreMedium();
        return medium.Exists();
    }

    /// <summary>
    /// Opens the existing store (a directory, or the fleet's in etcd), one medium for the look and the open.
    /// A fleet's prefix with no store is NotFound naming keystore init: a fleet's store is made once, on
    /// purpose, never by whichever daemon or command comes first. <paramref name="unlocker"/> is asked once the
    /// store is known to be there, with its (public) slots, so it can choose how to open it.
    /// </summary>
    public SealedKeyStore OpenKeyStore(Func<IReadOnlyList<KeySlotInfo>, Unlocker> unlocker)
    {
        var medium = KeyStoreMedium();
        Unlocker opener;
        try
        {
            if (SharedKeyStore is not null && !medium.Exists())
            {
                throw new KeyStoreException(KeyStoreErrors.NotFound, $"No key store in {SharedKeyStore}. Create it once for the fleet: {InitCommand}; then give every host that key file (or add a kmip slot that every host can use).");
            }

            opener = unlocker(SealedKeyStore.PeekSlots(medium));
        }
        catch
        {
            medium.Dispose();
            throw;
        }

        return SealedKeyStore.Open(medium, opener); // disposes the medium itself if it cannot open
    }

    /// <summary>
    /// How a store opens without a passphrase: its key file, where the store has a key-file slot or nothing
    /// else; otherwise its kmip slot, through the key manager it records (no secret file on the host).
    /// </summary>
    public Unlocker DefaultUnlocker(IReadOnlyList<KeySlotInfo> slots)
    {
        var hasKmip = slots.Any(s => s.Type == KeySlotTypes.Kmip);
        if (File.Exists(KeyFilePath) && (!hasKmip || slots.Any(s => s.Type == KeySlotTypes.KeyFile)))
        {
            return new KeyFileUnlocker(KeyFilePath); // refuses a key file its group or others may read
        }

        return hasKmip ? KmipUnlocker.Recorded : throw MissingKeyFile();
    }

    /// <summary>The command that creates the key store where this data directory says it is.</summary>
    public string InitCommand => SharedKeyStore is { } etcd
        ? $"blocksim keystore init --key-store {etcd} --key-file {KeyFilePath}"
        : $"blocksim keystore init --data-dir {Root}";

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
        if (SharedKeyStore is not null || SealedKeyStore.Exists(KeyStorePath))
        {
            var store = OpenKeyStore(DefaultUnlocker);
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
            var store = SealedKeyStore.Create(KeyStoreMedium(), unlocker, LocalPrincipal);
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
