using System.Runtime.InteropServices;

namespace BlockSim.KeyStore.Sealing;

/// <summary>
/// Crash-safe replacement of a small file: write a temporary file (0600) in the same directory, flush it
/// to disk, rename it over the old one, and fsync the directory so the rename itself survives a crash.
/// </summary>
internal static partial class DurableFile
{
    public static void Replace(string path, ReadOnlySpan<byte> contents)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        Write(temp, FileMode.Create, contents);
        File.Move(temp, path, overwrite: true);
        SyncDirectory(directory);
    }

    /// <summary>Creates a new file (0600 from the start; an existing one is never overwritten) and flushes it to disk.</summary>
    public static void CreateNew(string path, ReadOnlySpan<byte> contents) => Write(path, FileMode.CreateNew, contents);

    /// <summary>Appends to a file (created 0600) and flushes it to disk before returning.</summary>
    public static void Append(string path, ReadOnlySpan<byte> contents) => Write(path, FileMode.Append, contents);

    /// <summary>Opens the file in <paramref name="mode"/> (created 0600), writes and flushes to disk before returning.</summary>
    private static void Write(string path, FileMode mode, ReadOnlySpan<byte> contents)
    {
        var options = new FileStreamOptions
        {
            Mode = mode,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using var file = new FileStream(path, options);
        file.Write(contents);
        file.Flush(flushToDisk: true);
    }

    public static void SyncDirectory(string directory)
    {
        const int ReadOnlyDirectory = 0x10000; // O_RDONLY | O_DIRECTORY
        var fd = open(directory, ReadOnlyDirectory);
        if (fd < 0)
        {
            throw new IOException($"Cannot open {directory} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
