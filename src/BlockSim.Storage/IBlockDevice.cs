namespace BlockSim.Storage;

/// <summary>Whether a range holds data or reads as zeros without being stored.</summary>
public enum Allocation
{
    Data,
    Hole,
}

/// <summary>A run of bytes with one allocation state.</summary>
public readonly record struct BlockExtent(long Length, Allocation State);

/// <summary>
/// A block device, addressed in bytes. Callers keep offsets and lengths inside <see cref="Capacity"/>;
/// layers that work in sectors (encryption) handle unaligned requests themselves. Failures are
/// <see cref="IOException"/>s; <see cref="NotSupportedException"/> means "not possible quickly" (FAST_ZERO).
/// </summary>
public interface IBlockDevice : IDisposable
{
    long Capacity { get; }

    /// <summary>The unit this device stores atomically; writes smaller than it may be read-modify-written.</summary>
    int SectorSize { get; }

    bool IsReadOnly { get; }

    /// <summary>
    /// True when every operation does its work before it returns (memory, files, layers over them), never
    /// waiting on a timer: the server may then run requests on the connection's own thread. A device that
    /// delays on purpose (latency, throttling) says false, so its requests overlap as on a real queue.
    /// </summary>
    bool CompletesSynchronously => false;

    /// <summary>True for a spinning disk (a simulated one): the NBD export says so, and Linux picks its I/O scheduler for it.</summary>
    bool IsRotational => false;

    /// <summary>What this device can do beyond reads, writes, flushes and zeroing; layers pass on their inner device's, less what they cannot.</summary>
    BlockDeviceCapabilities Capabilities => BlockDeviceCapabilities.All;

    ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>Writes; with <paramref name="fua"/> the data is durable before this returns.</summary>
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default);

    /// <summary>Makes every completed write durable.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Advisory discard: the range may be deallocated and then reads as zeros.</summary>
    ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default);

    /// <summary>
    /// The range reads back as zeros. Without <paramref name="mayDeallocate"/> it stays allocated. With
    /// <paramref name="fastOnly"/>, throws <see cref="NotSupportedException"/> rather than doing slow work.
    /// </summary>
    ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default);

    /// <summary>Describes allocation from <paramref name="offset"/>; returns extents written (at least one).</summary>
    int GetAllocation(long offset, long length, Span<BlockExtent> extents);
}
