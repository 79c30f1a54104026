using System.Buffers;
using System.Runtime.InteropServices;
using BlockSim.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Storage.Volumes;

/// <summary>How a whole file was copied.</summary>
public enum FileCopyMethod
{
    /// <summary>FICLONE: the copy shares the source's blocks until either is written (btrfs, XFS, bcachefs).</summary>
    Reflink,

    /// <summary>Only the allocated extents were read and written; holes stayed holes.</summary>
    SparseCopy,
}

/// <summary>What a copy did: the method, the bytes it wrote itself (none for a reflink), and why there was no reflink.</summary>
public sealed record FileCopyReport(FileCopyMethod Method, long BytesWritten, string? ReflinkRefusal);

/// <summary>
/// Copies all of one file into a new, empty one: a reflink where the file system can share blocks, else
/// a sparse copy of the allocated extents. A volume is mostly holes, and a copy that filled them would
/// cost the whole capacity in disk space and time.
/// </summary>
internal static class FileCopy
{
    private const int Chunk = 1 << 20;

    /// <param name="tryReflink">False skips the reflink, so tests can run the sparse copy on any file system.</param>
    /// <param name="progress">Bytes of the source dealt with so far (holes count as dealt with when skipped).</param>
    public static FileCopyReport Copy(SafeFileHandle source, SafeFileHandle target, bool tryReflink = true, IProgress<long>? progress = null)
    {
        var length = RandomAccess.GetLength(source);
        var refusal = "not tried";
        if (tryReflink)
        {
            if (LibC.ioctl((int)target.DangerousGetHandle(), LibC.Ficlone, (int)source.DangerousGetHandle()) == 0)
            {
                progress?.Report(length);
                return new FileCopyReport(FileCopyMethod.Reflink, 0, null);
            }

            var errno = Marshal.GetLastPInvokeError();

            // The ways a file system (or a pair of them) says it cannot clone; anything else is a real failure.
            if (errno is not (LibC.EOPNOTSUPP or LibC.EXDEV or LibC.EINVAL or LibC.ENOTTY))
            {
                throw new IOException($"Cloning the file failed ({Marshal.GetPInvokeErrorMessage(errno)}).");
            }

            refusal = $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
        }

        return new FileCopyReport(FileCopyMethod.SparseCopy, CopyExtents(source, target, length, progress), refusal);
    }

    /// <summary>Sizes the target (all hole), then copies each data extent the source's SEEK_DATA/SEEK_HOLE report.</summary>
    private static long CopyExtents(SafeFileHandle source, SafeFileHandle target, long length, IProgress<long>? progress)
    {
        RandomAccess.SetLength(target, length);
        var fd = source.DangerousGetHandle();
        var buffer = ArrayPool<byte>.Shared.Rent(Chunk);
        long written = 0;
        try
        {
            for (long position = 0; position < length;)
            {
                var data = LibC.lseek(fd, position, LibC.SeekData);
                if (data < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.ENXIO)
                    {
                        break; // only a hole from here to the end
                    }

                    throw new IOException($"Cannot find the data in the file to copy ({Marshal.GetPInvokeErrorMessage(errno)}).");
                }

                var hole = LibC.lseek(fd, data, LibC.SeekHole);
                if (hole < 0)
                {
                    throw new IOException($"Cannot find the holes in the file to copy ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}).");
                }

                for (var at = data; at < Math.Min(hole, length);)
                {
                    var want = (int)Math.Min(Chunk, Math.Min(hole, length) - at);
                    var got = RandomAccess.Read(source, buffer.AsSpan(0, want), at);
                    if (got <= 0)
                    {
                        throw new IOException($"The file to copy ended early, at {at} of {length} bytes.");
                    }

                    RandomAccess.Write(target, buffer.AsSpan(0, got), at);
                    at += got;
                    written += got;
                    progress?.Report(at);
                }

                position = hole;
            }

            progress?.Report(length);
            return written;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
