using System.Runtime.InteropServices;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Storage.Volumes.Media;

/// <summary>
/// A volume file, open and locked for as long as this object lives: exclusively when read-write, shared
/// when read-only (or not at all, for <see cref="FileVolumeLocation.OpenUnlocked"/>).
/// </summary>
/// <remarks>
/// The lock is flock(2) on the open file, the lock .NET's own <c>FileShare.None</c> takes, so it excludes
/// every blocksim that opens volumes either way; it goes with the file descriptor, so a crash releases it.
/// It is taken explicitly, not through <c>FileShare</c>, so that a lock held elsewhere (EWOULDBLOCK) is told
/// apart from a file that cannot be opened for writing (EACCES, EPERM: mode, immutable attribute), and so
/// that <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c> cannot switch it off.
/// </remarks>
public sealed class FileVolumeMedium : IVolumeMedium
{
    /// <summary>How many times a held lock is asked for again, 10 ms apart, before the volume counts as in use.</summary>
    private const int BriefHolds = 10;

    private readonly bool _ownsHandle;

    internal FileVolumeMedium(string path, SafeFileHandle handle, bool readOnly, bool ownsHandle = true)
    {
        Location = path;
        Handle = handle;
        IsReadOnly = readOnly;
        _ownsHandle = ownsHandle;
    }

    public string Location { get; }

    public string Noun => "file";

    public bool IsReadOnly { get; }

    public long Length => RandomAccess.GetLength(Handle);

    /// <summary>The open file, for whole-file work (a snapshot's copy) that must happen under this lock.</summary>
    internal SafeFileHandle Handle { get; }

    public int Read(long offset, Span<byte> destination)
    {
        var read = 0;
        while (read < destination.Length)
        {
            var n = RandomAccess.Read(Handle, destination[read..], offset + read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return read;
    }

    public void Write(long offset, ReadOnlySpan<byte> source) => RandomAccess.Write(Handle, source, offset);

    public void Flush() => RandomAccess.FlushToDisk(Handle);

    public void SetLength(long length)
    {
        try
        {
            RandomAccess.SetLength(Handle, length);
        }
        catch (ArgumentOutOfRangeException e)
        {
            // .NET reports EFBIG this way ("Specified file length was too large for the file system"). The
            // size the user gave is the data area's: the header area before it is not theirs to count.
            var capacity = length - VolumeHeader.DataOffset;
            throw new VolumeException($"{Location}: the file system cannot hold a volume of {capacity} bytes ({ByteSize.Format(capacity)}); give a smaller size.", e);
        }
    }

    public IBlockDevice OpenRegion(long offset, long length) => new FileBlockDevice(Handle, offset, length, IsReadOnly, ownsHandle: false);

    public void Dispose()
    {
        if (_ownsHandle)
        {
            Handle.Dispose();
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> (read-write, or read-only) and takes its lock without waiting: exclusive
    /// for read-write, shared for read-only. Every failure is a <see cref="VolumeException"/> naming the file.
    /// </summary>
    internal static SafeFileHandle OpenLocked(string path, bool readOnly)
    {
        var handle = OpenFile(path, readOnly);
        for (var attempt = 0; ; attempt++)
        {
            if (LibC.flock(handle.DangerousGetHandle().ToInt32(), (readOnly ? LibC.LockShared : LibC.LockExclusive) | LibC.LockNonBlocking) == 0)
            {
                return handle;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == LibC.EWOULDBLOCK && attempt < BriefHolds)
            {
                // A lock this process has just let go of can outlive its close for a moment: a child forked
                // meanwhile (Process.Start) holds a copy of the descriptor until it execs. That goes in
                // milliseconds; a daemon's or another command's hold stays, and is refused below.
                Thread.Sleep(10);
                continue;
            }

            handle.Dispose();
            throw errno == LibC.EWOULDBLOCK
                ? new VolumeInUseException(path, readOnly)
                : new VolumeException($"{path}: cannot lock ({Marshal.GetPInvokeErrorMessage(errno)}).");
        }
    }

    internal static SafeFileHandle OpenFile(string path, bool readOnly)
    {
        if (Directory.Exists(path))
        {
            throw new VolumeException($"{path} is a directory, not a volume file.");
        }

        var fd = LibC.open(path, (readOnly ? LibC.ReadOnly : LibC.ReadWrite) | LibC.CloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                LibC.ENOENT => new VolumeException($"{path}: no such volume file."),
                LibC.EACCES or LibC.EPERM or LibC.EROFS when !readOnly && CanRead(path) => new VolumeNotWritableException(
                    $"{path} cannot be opened for writing ({Marshal.GetPInvokeErrorMessage(errno)}): the file is read-only or immutable (see ls -l and lsattr) or on a read-only file system."),
                _ => new VolumeException($"{path}: cannot open ({Marshal.GetPInvokeErrorMessage(errno)})."),
            };
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private static bool CanRead(string path)
    {
        var fd = LibC.open(path, LibC.ReadOnly | LibC.CloseOnExec);
        if (fd < 0)
        {
            return false;
        }

        LibC.close(fd);
        return true;
    }
}
