namespace BlockSim.Storage.Durability;

/// <summary>
/// Small files written so that a crash leaves the old contents or the new, never a mix: the key store's
/// copies, its key files, its audit log and head. Every file made here is 0600 from the moment it exists,
/// whatever the umask, since what they hold is secret or must not be changed by others. Failures are the
/// <see cref="IOException"/>s of the file calls, which name the path; no contents ever appear in them.
/// </summary>
public static class DurableFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Atomic replacement: a temporary file in the same directory (a rename across file systems would not be
    /// atomic), flushed to disk, renamed over <paramref name="path"/>, and the directory flushed so that the
    /// rename itself survives a crash.
    /// </summary>
    public static void Replace(string path, ReadOnlySpan<byte> contents)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        Write(temp, FileMode.Create, contents);
        File.Move(temp, path, overwrite: true);
        DirectorySync.Flush(directory);
    }

    /// <summary>
    /// Creates a new file (an existing one is never overwritten) and flushes its contents to disk. Its name
    /// is durable only once the directory is flushed (<see cref="DirectorySync.FlushParentOf"/>): left to the
    /// caller, which may have more to do in that directory first.
    /// </summary>
    public static void CreateNew(string path, ReadOnlySpan<byte> contents) => Write(path, FileMode.CreateNew, contents);

    /// <summary>Appends to a file (created if missing) and flushes it to disk before returning.</summary>
    public static void Append(string path, ReadOnlySpan<byte> contents) => Write(path, FileMode.Append, contents);

    /// <summary>
    /// Renames <paramref name="source"/> to <paramref name="destination"/> (over an existing file only when
    /// <paramref name="overwrite"/>) and flushes the directory, so the rename survives a crash. Both are
    /// meant to be in one directory: only there is a rename atomic.
    /// </summary>
    public static void Rename(string source, string destination, bool overwrite)
    {
        File.Move(source, destination, overwrite);
        DirectorySync.FlushParentOf(destination);
    }

    private static void Write(string path, FileMode mode, ReadOnlySpan<byte> contents)
    {
        var options = new FileStreamOptions
        {
            Mode = mode,
            Access = FileAccess.Write,
            UnixCreateMode = OwnerOnly,
        };
        using var file = new FileStream(path, options);
        file.Write(contents);
        file.Flush(flushToDisk: true);
    }
}
