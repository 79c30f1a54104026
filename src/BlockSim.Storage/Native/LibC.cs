using System.Runtime.InteropServices;

namespace BlockSim.Storage.Native;

/// <summary>The few Linux calls .NET does not expose: hole punching, data/hole seeking, directory fsync, flock.</summary>
internal static partial class LibC
{
    public const int FallocKeepSize = 0x01;
    public const int FallocPunchHole = 0x02;
    public const int FallocZeroRange = 0x10;
    public const int SeekData = 3;
    public const int SeekHole = 4;
    public const int ENXIO = 6;
    public const int ENOENT = 2;
    public const int EPERM = 1;
    public const int EWOULDBLOCK = 11;        // EAGAIN
    public const int EACCES = 13;
    public const int EISDIR = 21;
    public const int EROFS = 30;
    public const int ReadOnly = 0;            // O_RDONLY
    public const int ReadWrite = 2;           // O_RDWR
    public const int LockShared = 1;          // LOCK_SH
    public const int LockExclusive = 2;       // LOCK_EX
    public const int LockNonBlocking = 4;     // LOCK_NB
    public const int CloseOnExec = 0x80000;   // O_CLOEXEC

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fallocate(nint fd, int mode, long offset, long length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial long lseek(nint fd, long offset, int whence);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fdatasync(nint fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>fsyncs a directory so a rename or a new file in it survives a crash.</summary>
    public static void SyncDirectory(string directory)
    {
        const int ReadOnlyDirectory = 0x10000; // O_RDONLY | O_DIRECTORY
        var fd = open(directory, ReadOnlyDirectory);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {directory} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            close(fd);
        }
    }
}
