using BlockSim.Storage.Durability;

namespace BlockSim.KeyStore.Media;

/// <summary>
/// A store in a directory on this host: two copies (keystore.json, then keystore.backup.json, each replaced
/// atomically and durably), a lock file that keeps writers in other processes out, and the audit log's
/// segments and head beside them.
/// </summary>
public sealed class DirectoryKeyStoreMedium : IKeyStoreMedium
{
    public const string PrimaryName = "keystore.json";
    public const string BackupName = "keystore.backup.json";
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public DirectoryKeyStoreMedium(string directory)
    {
        Directory = directory;
        Audit = new FileAuditStorage(directory);
    }

    public string Directory { get; }

    public string Location => Directory;

    public string? KeyFileBase => Directory;

    IAuditStorage IKeyStoreMedium.Audit => Audit;

    public FileAuditStorage Audit { get; }

    private string PrimaryPath => Path.Combine(Directory, PrimaryName);

    private string BackupPath => Path.Combine(Directory, BackupName);

    /// <summary>True when <paramref name="directory"/> holds either copy of a store.</summary>
    public static bool HoldsStore(string directory) =>
        File.Exists(Path.Combine(directory, PrimaryName)) || File.Exists(Path.Combine(directory, BackupName));

    public bool Exists() => HoldsStore(Directory);

    public void Prepare() =>
        System.IO.Directory.CreateDirectory(Directory, Private | UnixFileMode.UserExecute);

    /// <summary>The lock file, always (every request here is exclusive).</summary>
    public IDisposable Lock(bool exclusive = false)
    {
        var path = Path.Combine(Directory, "keystore.lock");
        var deadline = Environment.TickCount64 + 10_000;
        while (true)
        {
            try
            {
                return File.Open(path, new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate,
                    Access = FileAccess.ReadWrite,
                    Share = FileShare.None,
                    UnixCreateMode = Private,
                });
            }
            catch (IOException) when (Environment.TickCount64 < deadline)
            {
                Thread.Sleep(20); // another process holds it
            }
        }
    }

    /// <summary>Nothing more: <see cref="Lock"/> holds the lock file, which keeps re-keys apart too.</summary>
    public IDisposable LockForReKey() => NoLock.Instance;

    public IReadOnlyList<StoreCopy> ReadCopies() =>
        [new StoreCopy(PrimaryPath, TryRead(PrimaryPath)), new StoreCopy(BackupPath, TryRead(BackupPath))];

    private static byte[]? TryRead(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The primary, then the backup: once the primary is written the change is committed (the newer copy is read first).</summary>
    public void WriteStore(byte[] serialized, Action<string>? crashPoint)
    {
        DurableFile.Replace(PrimaryPath, serialized);
        crashPoint?.Invoke("primary-written");
        try
        {
            DurableFile.Replace(BackupPath, serialized);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StoreCopyWriteFailedException(PrimaryName, BackupName, e);
        }
    }

    public void Dispose()
    {
        // Nothing held between requests.
    }

    public override string ToString() => Directory;
}

/// <summary>A lock a medium does not need to take.</summary>
public sealed class NoLock : IDisposable
{
    public static readonly NoLock Instance = new();

    public void Dispose()
    {
        // Nothing held.
    }
}
