namespace BlockSim.Storage.Simulation;

/// <summary>Passes every call to an inner device; simulation layers override what they change.</summary>
public abstract class DelegatingBlockDevice(IBlockDevice inner) : IBlockDevice
{
    protected IBlockDevice Inner { get; } = inner;

    public virtual long Capacity => Inner.Capacity;

    public virtual int SectorSize => Inner.SectorSize;

    public virtual bool IsReadOnly => Inner.IsReadOnly;

    public virtual bool CompletesSynchronously => Inner.CompletesSynchronously;

    public virtual bool IsRotational => Inner.IsRotational;

    public virtual BlockDeviceCapabilities Capabilities => Inner.Capabilities;

    public virtual ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(offset, destination, cancellationToken);

    public virtual ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default) =>
        Inner.WriteAsync(offset, source, fua, cancellationToken);

    public virtual ValueTask FlushAsync(CancellationToken cancellationToken = default) => Inner.FlushAsync(cancellationToken);

    public virtual ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        Inner.TrimAsync(offset, length, cancellationToken);

    public virtual ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default) =>
        Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken);

    public virtual int GetAllocation(long offset, long length, Span<BlockExtent> extents) => Inner.GetAllocation(offset, length, extents);

    public virtual void Dispose() => Inner.Dispose();
}
