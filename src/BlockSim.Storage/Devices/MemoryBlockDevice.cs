namespace BlockSim.Storage.Devices;

/// <summary>
/// A sparse in-memory device: 64 KiB pages allocated on first write and freed by TRIM and by
/// WRITE_ZEROES that may deallocate. The capacity can be far larger than RAM as long as little is written.
/// Concurrent requests on overlapping ranges may interleave at byte granularity, as on a real disk.
/// </summary>
public sealed class MemoryBlockDevice : IBlockDevice, IPageLender
{
    private const int PageShift = 16;
    private const int PageSize = 1 << PageShift;
    private const int DirectoryShift = 10;               // 1024 pages (64 MiB) per directory
    private const int DirectorySize = 1 << DirectoryShift;

    private static readonly byte[] s_zeroPage = new byte[PageSize];

    private readonly byte[]?[]?[] _directories;

    public MemoryBlockDevice(long capacity, bool readOnly = false)
    {
        if (capacity <= 0 || capacity % 512 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The capacity must be a positive multiple of 512 bytes.");
        }

        Capacity = capacity;
        IsReadOnly = readOnly;
        var pages = (capacity + PageSize - 1) >> PageShift;
        _directories = new byte[]?[]?[(pages + DirectorySize - 1) >> DirectoryShift];
    }

    public long Capacity { get; }

    public int SectorSize => 512;

    public bool IsReadOnly { get; }

    public bool CompletesSynchronously => true;

    /// <summary>Bytes of pages currently allocated.</summary>
    public long AllocatedBytes => _directories.Where(d => d is not null).Sum(d => (long)d!.Count(p => p is not null)) * PageSize;

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var span = destination.Span;
        while (!span.IsEmpty)
        {
            var stored = ReadableAt(offset, span.Length);
            stored.CopyTo(span);
            span = span[stored.Length..];
            offset += stored.Length;
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The stored bytes from <paramref name="offset"/>, at most <paramref name="maxLength"/> and never past the
    /// page that holds them (a page never written reads as zeros), in place: reads copy out of it, and the
    /// encryption layer decrypts straight out of it. A concurrent write may change them while they are read.
    /// </summary>
    public ReadOnlySpan<byte> ReadableAt(long offset, int maxLength)
    {
        var within = (int)(offset & (PageSize - 1));
        return (PageAt(offset >> PageShift) ?? s_zeroPage).AsSpan(within, Math.Min(maxLength, PageSize - within));
    }

    /// <summary>
    /// The page memory from <paramref name="offset"/> (allocated if new), at most <paramref name="maxLength"/>
    /// and never past the page: writes copy into it, and the encryption layer encrypts straight into it.
    /// </summary>
    public Span<byte> WritableAt(long offset, int maxLength)
    {
        var within = (int)(offset & (PageSize - 1));
        return GetOrAddPage(offset >> PageShift).AsSpan(within, Math.Min(maxLength, PageSize - within));
    }

    // Memory needs nothing held while its pages are lent.
    public bool TryBeginLoan(bool write) => true;

    public void EndLoan()
    {
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        var span = source.Span;
        while (!span.IsEmpty)
        {
            var page = WritableAt(offset, span.Length);
            span[..page.Length].CopyTo(page);
            span = span[page.Length..];
            offset += page.Length;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        Zero(offset, length, mayDeallocate: true);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        Zero(offset, length, mayDeallocate); // always fast in memory
        return ValueTask.CompletedTask;
    }

    public int GetAllocation(long offset, long length, Span<BlockExtent> extents)
    {
        var count = 0;
        var end = offset + length;
        while (offset < end && count < extents.Length)
        {
            var allocated = PageAt(offset >> PageShift) is not null;
            var runEnd = Math.Min(end, ((offset >> PageShift) + 1) << PageShift);
            while (runEnd < end && (PageAt(runEnd >> PageShift) is not null) == allocated)
            {
                runEnd = Math.Min(end, runEnd + PageSize);
            }

            extents[count++] = new BlockExtent(runEnd - offset, allocated ? Allocation.Data : Allocation.Hole);
            offset = runEnd;
        }

        return count;
    }

    public void Dispose()
    {
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
                GetOrAddPage(index); // must stay allocated (NO_HOLE)
            }

            offset += count;
        }
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
