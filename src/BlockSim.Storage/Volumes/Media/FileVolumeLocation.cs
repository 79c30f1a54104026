using BlockSim.Storage.Durability;

namespace BlockSim.Storage.Volumes.Media;

/// <summary>A volume file on this host (NAME.vol in the data directory, or any path).</summary>
public sealed class FileVolumeLocation(string path) : VolumeLocation
{
    public string Path { get; } = path;

    public override string Name => Path;

    public override bool Exists() => File.Exists(Path);

    public override IVolumeMedium Open(bool readOnly) => new FileVolumeMedium(Path, FileVolumeMedium.OpenLocked(Path, readOnly), readOnly);

    // Without the lock, which a daemon serving the volume holds: reading the header is safe then (it only
    // changes under the exclusive lock, which that daemon's hold rules out).
    public override IVolumeMedium OpenUnlocked() => new FileVolumeMedium(Path, FileVolumeMedium.OpenFile(Path, readOnly: true), readOnly: true);

    public override IVolumeMedium Create(long length)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };

        // CreateNew refuses an existing file; the lock is then taken on the new one, so no other blocksim
        // opens it half-made. The file is ours, so a failure past this point may delete it.
        using (new FileStream(Path, options))
        {
        }

        IVolumeMedium? medium = null;
        try
        {
            medium = Open(readOnly: false);
            medium.SetLength(length);
            DirectorySync.FlushParentOf(Path);
            return medium;
        }
        catch
        {
            medium?.Dispose();
            File.Delete(Path); // a failed create leaves nothing half-made behind
            throw;
        }
    }

    public override void Delete(IVolumeMedium held)
    {
        using (held)
        {
            File.Delete(Path);
        }

        DirectorySync.FlushParentOf(Path);
    }
}
