using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// The embedded default's files: a data directory (0700) holding the development master key and the
/// volumes. Created on first use, reused afterwards.
/// </summary>
internal sealed class DataDirectory
{
    public const string DefaultPath = "blocksim-data";

    public DataDirectory(string path)
    {
        Root = Path.GetFullPath(path);
    }

    public string Root { get; }

    public string MasterKeyPath => Path.Combine(Root, "dev-master.key");

    public string VolumesPath => Path.Combine(Root, "volumes");

    public string DefaultSocket => Path.Combine(Root, "nbd.sock");

    public string VolumePath(string name) => Path.Combine(VolumesPath, name + ".vol");

    public DevelopmentKeyProvider EnsureCreated()
    {
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(Root, Private);
        Directory.CreateDirectory(VolumesPath, Private);
        return DevelopmentKeyProvider.OpenOrCreate(MasterKeyPath);
    }
}
