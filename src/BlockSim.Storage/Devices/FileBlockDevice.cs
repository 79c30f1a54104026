using System.Buffers;
using System.Runtime.InteropServices;
using BlockSim.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Storage.Devices;

/// <summary>
/// A region of a sparse file as a block device: positional I/O through <see cref="RandomAccess"/>,
/// FLUSH and FUA as fsync/fdatasync, TRIM and WRITE_ZEROES as hole punching (falling back to writing
/// zeros where the file system cannot punch), allocation from SEEK_DATA/SEEK_HOLE.
/// </summary>
public sealed class FileBlockDevice : IBlockDevice
{
    private const int ZeroChunk = 1 << 20;
    private readonly SafeFileHandle _handle;
    private readonly long _start;
    private readonly bool _ownsHandle;
    private bool _punchUnsupported;

    /// <param name="handle">An open handle to the file.</param>
    /// <param name="start">Where the device begins in the file (the volume's data area).</param>
    /// <param name="capacity">The device's size; the file must extend at least to start + capacity.</param>
    public FileBlockDevice(SafeFileHandle handle, long start, long capacity, bool readOnly, bool ownsHandle)
    {
        _handle = handle;
        _start = start;
        _ownsHandle = ownsHandle;
        Capacity = capacity;
        IsReadOnly = readOnly;
    }

    /// <summary>Opens (or creates, sparse) a plain file of the given size as a device.</summary>
    public static FileBlockDevice OpenRaw(string path, long capacity, bool readOnly = false)
    {
        var handle = File.OpenHandle(path, readOnly ? FileMode.Open : FileMode.OpenOrCreate, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.Read);
        if (!readOnly && RandomAccess.GetLength(handle) < capacity)
        {
            RandomAccess.SetLength(handle, capacity);
        }

        return new FileBlockDevice(handle, 0, capacity, readOnly, ownsHandle: true);
    }

    public long Capacity { get; }

    public int SectorSize => 512;

    public bool IsReadOnly { get; }

    // Positional reads and writes block the calling thread (page cache or disk) and return done.
    public bool CompletesSynchronously => true;

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var span = destination.Span;
        while (!span.IsEmpty)
        {
            var read = RandomAccess.Read(_handle, span, _start + offset);
            if (read == 0)
            {
                span.Clear(); // past the end of a short file: unwritten, so zeros
                break;
            }

            span = span[read..];
            offset += read;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        RandomAccess.Write(_handle, source.Span, _start + offset);
        if (fua)
        {
            DataSync();
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        RandomAccess.FlushToDisk(_handle);
        return ValueTask.CompletedTask;
    }

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        // Advisory: where holes cannot be punched, a trim does nothing (zeroing would only cost time).
        TryFallocate(LibC.FallocPunchHole | LibC.FallocKeepSize, offset, length);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        var mode = mayDeallocate ? LibC.FallocPunchHole | LibC.FallocKeepSize : LibC.FallocZeroRange | LibC.FallocKeepSize;
        if (TryFallocate(mode, offset, length))
        {
            return ValueTask.CompletedTask;
        }

        if (fastOnly)
        {
            throw new NotSupportedException("This file system cannot zero a range without writing it.");
        }

        WriteZeros(offset, length);
        return ValueTask.CompletedTask;
    }

    public int GetAllocation(long offset, long length, Span<BlockExtent> extents)
    {
        var fd = _handle.DangerousGetHandle();
        var end = offset + length;
        var count = 0;
        while (offset < end && count < extents.Length)
        {
            var position = _start + offset;
            var data = LibC.lseek(fd, position, LibC.SeekData);
            if (data < 0)
            {
                // ENXIO: no data after this point, the rest is a hole. Anything else: report data (safe).
                var hole = Marshal.GetLastPInvokeError() == LibC.ENXIO;
                extents[count++] = new BlockExtent(end - offset, hole ? Allocation.Hole : Allocation.Data);
                break;
            }

            if (data > position)
            {
                var holeLength = Math.Min(end - offset, data - position);
                extents[count++] = new BlockExtent(holeLength, Allocation.Hole);
                offset += holeLength;
                continue;
            }

            var nextHole = LibC.lseek(fd, position, LibC.SeekHole);
            var dataLength = nextHole < 0 ? end - offset : Math.Min(end - offset, nextHole - position);
            extents[count++] = new BlockExtent(dataLength, Allocation.Data);
            offset += dataLength;
        }

        return count;
    }

    public void Dispose()
    {
        if (_ownsHandle)
        {
            _handle.Dispose();
        }
    }

    private bool TryFallocate(int mode, long offset, long length)
    {
        if (_punchUnsupported || length == 0)
        {
            return length == 0;
        }

        if (LibC.fallocate(_handle.DangerousGetHandle(), mode, _start + offset, length) == 0)
        {
            return true;
        }

        const int EOPNOTSUPP = 95;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == EOPNOTSUPP)
        {
            _punchUnsupported = true;
            return false;
        }

        // The errno as the HResult, as .NET's own file errors carry it, so callers can tell ENOSPC from EIO.
        throw new IOException($"fallocate on the backing file failed (errno {errno}).", errno);
    }

    private void WriteZeros(long offset, long length)
    {
        var zeros = ArrayPool<byte>.Shared.Rent((int)Math.Min(length, ZeroChunk));
        try
        {
            Array.Clear(zeros);
            while (length > 0)
            {
                var count = (int)Math.Min(length, zeros.Length);
                RandomAccess.Write(_handle, zeros.AsSpan(0, count), _start + offset);
                offset += count;
                length -= count;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
        }
    }

    private void DataSync()
    {
        if (LibC.fdatasync(_handle.DangerousGetHandle()) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"fdatasync of the backing file failed (errno {errno}).", errno);
        }
    }
}
