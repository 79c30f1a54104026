using System.Runtime.InteropServices;
using BlockSim.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// A write log's file, written with O_DIRECT: the bytes go from a reused, aligned buffer to the disk, not into
/// the page cache. A log only grows, so buffered writes would copy every byte into a page never touched
/// before; on the VMs measured, a fresh page costs far more than the copy (perf/RESULTS.md), and the log's
/// pages are never read back while it is written. Bytes are gathered until <see cref="WriteAt"/> of them are
/// staged, then the whole blocks among them are written; the partial block at the end stays staged, and
/// <see cref="Flush"/> writes it padded to a block and trims the file back to its length, so the file holds
/// exactly what was written after every flush. Not thread-safe: the write log's own thread is its one user.
/// </summary>
internal sealed unsafe class DirectLogFile : Stream
{
    /// <summary>O_DIRECT's alignment for offsets, lengths and memory: a page, which every device's logical block divides.</summary>
    private const int Block = 4096;
    private const int WriteAt = 4 << 20;
    private const int StagingSize = 2 * WriteAt;
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private byte* _staging;
    private int _staged;
    private long _stagedAt;   // the file offset of the staging's first byte: always a multiple of Block
    private bool _tailWritten; // the staged partial block is in the file, padded, and the file trimmed to its length
    private bool _failed;      // a write failed: the file is left as it broke, and closing it writes nothing more

    private DirectLogFile(SafeFileHandle file, string path)
    {
        _file = file;
        _path = path;
        _staging = (byte*)NativeMemory.AlignedAlloc(StagingSize, Block);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _stagedAt + _staged;
    public override long Position { get => Length; set => throw new NotSupportedException(); }

    /// <summary>
    /// Creates the file (0600, never over an existing one) for direct writes; null when its file system does
    /// not take O_DIRECT (tmpfs before Linux 6.6, some network file systems), and the caller writes through
    /// the page cache instead.
    /// </summary>
    public static DirectLogFile? TryCreate(string path)
    {
        var fd = LibC.open(path, LibC.WriteOnly | LibC.Create | LibC.Exclusive | LibC.Direct | LibC.CloseOnExec, LibC.UserReadWrite);
        if (fd >= 0)
        {
            return new DirectLogFile(new SafeFileHandle(fd, ownsHandle: true), path);
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno == LibC.EINVAL)
        {
            // Linux checks O_DIRECT after it has made the file: take it away again, so the caller can create it.
            File.Delete(path);
            return null;
        }

        throw new IOException($"Cannot create the write log {path}: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_staging is null, this);
        while (!buffer.IsEmpty)
        {
            var room = Math.Min(buffer.Length, StagingSize - _staged);
            buffer[..room].CopyTo(new Span<byte>(_staging + _staged, room));
            _staged += room;
            _tailWritten = false;
            buffer = buffer[room..];
            if (_staged >= WriteAt)
            {
                WriteWholeBlocks();
            }
        }
    }

    /// <summary>Puts every byte written into the file (the last block padded, then the file trimmed to its length).</summary>
    public override void Flush()
    {
        ObjectDisposedException.ThrowIf(_staging is null, this);
        WriteWholeBlocks();
        if (_staged == 0 || _tailWritten)
        {
            return;
        }

        new Span<byte>(_staging + _staged, Block - _staged).Clear(); // the padding, written and then trimmed off
        Guarded(() =>
        {
            RandomAccess.Write(_file, new ReadOnlySpan<byte>(_staging, Block), _stagedAt);
            RandomAccess.SetLength(_file, _stagedAt + _staged);
        });
        _tailWritten = true;
    }

    /// <summary>Flushes, then asks the file system to make the file durable (its length included).</summary>
    public void FlushToDisk()
    {
        Flush();
        if (LibC.fsync(_file.DangerousGetHandle().ToInt32()) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            _failed = true;
            throw new IOException($"fsync of the write log {_path} failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (_staging is not null)
        {
            try
            {
                if (disposing && !_failed)
                {
                    Flush();
                }
            }
            finally
            {
                _file.Dispose();
                NativeMemory.AlignedFree(_staging);
                _staging = null;
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>Writes the staged whole blocks and moves the partial one after them to the staging's start.</summary>
    private void WriteWholeBlocks()
    {
        var whole = _staged / Block * Block;
        if (whole == 0)
        {
            return;
        }

        Guarded(() => RandomAccess.Write(_file, new ReadOnlySpan<byte>(_staging, whole), _stagedAt));
        var tail = _staged - whole;
        new Span<byte>(_staging + whole, tail).CopyTo(new Span<byte>(_staging, tail));
        _stagedAt += whole;
        _staged = tail;
    }

    private void Guarded(Action write)
    {
        try
        {
            write();
        }
        catch
        {
            _failed = true;
            throw;
        }
    }
}
