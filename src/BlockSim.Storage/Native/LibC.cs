using System.Runtime.InteropServices;

namespace BlockSim.Storage.Native;

/// <summary>The few Linux calls .NET does not expose: hole punching, data/hole seeking, fsync (of directories too: Durability.DirectorySync), flock, reflinks, allocated size, precise sleeps.</summary>
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
    public const int EXDEV = 18;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOTTY = 25;
    public const int EROFS = 30;
    public const int ENOSPC = 28;
    public const int EOPNOTSUPP = 95;
    public const int ReadOnly = 0;            // O_RDONLY
    public const int ReadWrite = 2;           // O_RDWR
    public const int WriteOnly = 1;           // O_WRONLY
    public const int Create = 0x40;           // O_CREAT
    public const int Exclusive = 0x80;        // O_EXCL
    public const uint UserReadWrite = 0x180;  // 0600
    public const int LockShared = 1;          // LOCK_SH
    public const int LockExclusive = 2;       // LOCK_EX
    public const int LockNonBlocking = 4;     // LOCK_NB
    public const int CloseOnExec = 0x80000;   // O_CLOEXEC
    public const uint Ficlone = 0x40049409;   // FICLONE, _IOW(0x94, 9, int): share all of another file's blocks
    /// <summary>O_DIRECT, whose value differs between architectures (Arm's is x86's O_DIRECTORY).</summary>
    public static int Direct => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;
    /// <summary>O_DIRECTORY: x86's 0x10000 is Arm's O_DIRECT, so it too depends on the architecture.</summary>
    public static int DirectoryOnly => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x4000 : 0x10000;

    private const int AtCurrentDirectory = -100; // AT_FDCWD
    private const uint StatxBlocks = 0x400;   // STATX_BLOCKS
    private const int StatxBlocksOffset = 48; // of stx_blocks in struct statx, the same on every architecture

    public const int PrSetTimerSlack = 29;     // PR_SET_TIMERSLACK
    public const int ClockMonotonic = 1;       // CLOCK_MONOTONIC

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int prctl(int option, ulong argument2, ulong argument3, ulong argument4, ulong argument5);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int clock_nanosleep(int clock, int flags, ref TimeSpec request, nint remaining);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fallocate(nint fd, int mode, long offset, long length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial long lseek(nint fd, long offset, int whence);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fdatasync(nint fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    /// <summary>open(2) with the mode a new file gets.</summary>
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>ioctl with an int argument (FICLONE takes the source file descriptor).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, int argument);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int directoryFd, string path, int flags, uint mask, ref byte buffer);

    /// <summary>
    /// Bytes the file occupies on disk (st_blocks * 512), not its length: what a sparse file really costs.
    /// Through statx because its layout, unlike struct stat's, is the same on every architecture.
    /// </summary>
    public static long AllocatedBytes(string path)
    {
        Span<byte> buffer = stackalloc byte[256]; // sizeof(struct statx)
        buffer.Clear();
        if (statx(AtCurrentDirectory, path, 0, StatxBlocks, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            throw new IOException($"Cannot stat {path} ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}).");
        }

        if ((MemoryMarshal.Read<uint>(buffer) & StatxBlocks) == 0) // stx_mask: what the file system filled in
        {
            throw new IOException($"The file system of {path} does not report how much of it is allocated.");
        }

        return (long)MemoryMarshal.Read<ulong>(buffer[StatxBlocksOffset..]) * 512;
    }
}
