using BlockSim.Storage.Durability;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// An output file only its owner can read (0600 from the moment it exists, whatever the umask), for data
/// as sensitive as a decrypted volume image. A new file is created in place. Replacing an existing one
/// writes a fresh 0600 file beside it and renames it over the old one at <see cref="Commit"/>: the old
/// file keeps its mode and its contents to the end, so nobody who could read it (or holds it open) ever
/// sees the new data. Disposed without a commit, the new file is removed.
/// </summary>
internal sealed class PrivateOutputFile : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly FileStream _stream;
    private readonly string _path;
    private readonly string _writing;
    private bool _committed;

    private PrivateOutputFile(string path, string writing)
    {
        _path = path;
        _writing = writing;
        _stream = new FileStream(writing, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, // also keeps a file that appeared meanwhile from being written through
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = OwnerOnly,
        });
    }

    /// <summary>Creates <paramref name="path"/>; an existing file is an error unless <paramref name="replace"/>.</summary>
    public static PrivateOutputFile Create(string path, bool replace)
    {
        if (!replace || !File.Exists(path))
        {
            return new PrivateOutputFile(path, path);
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return new PrivateOutputFile(path, Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp"));
    }

    public SafeFileHandle Handle => _stream.SafeFileHandle;

    /// <summary>Makes the written data durable and puts the file in place.</summary>
    public void Commit()
    {
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        if (_writing != _path)
        {
            File.Move(_writing, _path, overwrite: true);
        }

        DirectorySync.FlushParentOf(_path); // the new name (or the rename over the old one) survives a crash

        _committed = true;
    }

    public void Dispose()
    {
        _stream.Dispose();
        if (!_committed)
        {
            File.Delete(_writing);
        }
    }
}
