using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Exports;

/// <summary>
/// A sparse in-memory export: 64 KiB pages allocated on first write, freed again by TRIM and by
/// WRITE_ZEROES without NO_HOLE. The capacity can be far larger than RAM as long as little is written.
/// Concurrent requests on overlapping ranges may interleave at byte granularity, as on a real disk.
/// </summary>
public sealed class MemoryExport : INbdExport
{
    private const int PageShift = 16;
    private const int PageSize = 1 << PageShift;
    private const int DirectoryShift = 10;               // 1024 pages (64 MiB) per directory
    private const int DirectorySize = 1 << DirectoryShift;

    private readonly byte[]?[]?[] _directories;

    public MemoryExport(string name, long size, string? description = null, bool readOnly = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (size <= 0 || size % 512 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "The export size must be a positive multiple of 512 bytes.");
        }

        Name = name;
        Size = size;
        Description = description;
        IsReadOnly = readOnly;
        var pages = (size + PageSize - 1) >> PageShift;
        _directories = new byte[]?[]?[(pages + DirectorySize - 1) >> DirectoryShift];
    }

    public string Name { get; }

    public string? Description { get; }

    public long Size { get; }

    public bool IsReadOnly { get; }

    public bool CanMultiConn => true; // one memory, seen by every connection: a flush is trivially global

    public int MinimumBlockSize => 1;

    public int PreferredBlockSize => 4096;

    /// <summary>Bytes of pages currently allocated (for tests and metrics).</summary>
    public long AllocatedBytes
    {
        get
        {
            long pages = 0;
            foreach (var directory in _directories)
            {
                if (directory is not null)
                {
                    pages += directory.Count(p => p is not null);
                }
            }

            return pages * PageSize;
        }
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var span = destination.Span;
        while (!span.IsEmpty)
        {
            var (page, within, count) = Locate(offset, span.Length);
            if (page is null)
            {
                span[..count].Clear();
            }
            else
            {
                page.AsSpan(within, count).CopyTo(span);
            }

            span = span[count..];
            offset += count;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken)
    {
        var span = source.Span;
        while (!span.IsEmpty)
        {
            var index = offset >> PageShift;
            var within = (int)(offset & (PageSize - 1));
            var count = Math.Min(span.Length, PageSize - within);
            span[..count].CopyTo(GetOrAddPage(index).AsSpan(within));
            span = span[count..];
            offset += count;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask TrimAsync(long offset, long length, bool fua, CancellationToken cancellationToken)
    {
        Zero(offset, length, mayDeallocate: true);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly, bool fua, CancellationToken cancellationToken)
    {
        // Zeroing memory is always fast, so FAST_ZERO never has to refuse here.
        Zero(offset, length, mayDeallocate);
        return ValueTask.CompletedTask;
    }

    public int GetAllocation(long offset, long length, Span<NbdExtent> extents)
    {
        var count = 0;
        var end = offset + length;
        while (offset < end && count < extents.Length)
        {
            var allocated = PageAt(offset >> PageShift) is not null;
            var runEnd = Math.Min(end, ((offset >> PageShift) + 1) << PageShift);
            while (runEnd < end && (PageAt(runEnd >> PageShift) is not null) == allocated && runEnd - offset < uint.MaxValue - PageSize)
            {
                runEnd = Math.Min(end, runEnd + PageSize);
            }

            extents[count++] = new NbdExtent((uint)(runEnd - offset), allocated ? NbdAllocationFlags.Data : NbdAllocationFlags.Hole | NbdAllocationFlags.Zero);
            offset = runEnd;
        }

        return count;
    }

    private void Zero(long offset, long length, bool mayDeallocate)
    {
        var end = offset + length;
        while (offset < end)
        {
            var index = offset >> PageShift;
            var within = (int)(offset & (PageSize - 1));
            var count = (int)Math.Min(end - offset, PageSize - within);
            var page = PageAt(index);
            if (page is not null)
            {
                if (count == PageSize && mayDeallocate)
                {
                    _directories[index >> DirectoryShift]![index & (DirectorySize - 1)] = null;
                }
                else
                {
                    page.AsSpan(within, count).Clear();
                }
            }
            else if (!mayDeallocate)
            {
                GetOrAddPage(index); // NO_HOLE: the range must stay allocated
            }

            offset += count;
        }
    }

    private (byte[]? Page, int Within, int Count) Locate(long offset, int length)
    {
        var within = (int)(offset & (PageSize - 1));
        return (PageAt(offset >> PageShift), within, Math.Min(length, PageSize - within));
    }

    private byte[]? PageAt(long index) => Volatile.Read(ref _directories[index >> DirectoryShift])?[index & (DirectorySize - 1)];

    private byte[] GetOrAddPage(long index)
    {
        ref var directorySlot = ref _directories[index >> DirectoryShift];
        var directory = Volatile.Read(ref directorySlot);
        if (directory is null)
        {
            Interlocked.CompareExchange(ref directorySlot, new byte[]?[DirectorySize], null);
            directory = Volatile.Read(ref directorySlot)!;
        }

        ref var pageSlot = ref directory[index & (DirectorySize - 1)];
        var page = Volatile.Read(ref pageSlot);
        if (page is null)
        {
            Interlocked.CompareExchange(ref pageSlot, new byte[PageSize], null);
            page = Volatile.Read(ref pageSlot)!;
        }

        return page;
    }
}
