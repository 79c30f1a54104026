using BlockSim.Nbd.Exports;

namespace BlockSim.Nbd.Tests;

/// <summary>Passes everything to an inner export; tests override what they need to change.</summary>
public abstract class DelegatingExport(INbdExport inner) : INbdExport
{
    public virtual string Name => inner.Name;

    public virtual string? Description => inner.Description;

    public virtual long Size => inner.Size;

    public virtual bool IsReadOnly => inner.IsReadOnly;

    public virtual bool CanMultiConn => inner.CanMultiConn;

    // Not the inner export's answer: test exports that wait on gates must keep the pipelined path.
    public virtual bool CompletesSynchronously => false;

    public virtual int MinimumBlockSize => inner.MinimumBlockSize;

    public virtual int PreferredBlockSize => inner.PreferredBlockSize;

    public virtual ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        inner.ReadAsync(offset, destination, cancellationToken);

    public virtual ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken) =>
        inner.WriteAsync(offset, source, fua, cancellationToken);

    public virtual ValueTask FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public virtual ValueTask TrimAsync(long offset, long length, bool fua, CancellationToken cancellationToken) =>
        inner.TrimAsync(offset, length, fua, cancellationToken);

    public virtual ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly, bool fua, CancellationToken cancellationToken) =>
        inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, fua, cancellationToken);

    public virtual int GetAllocation(long offset, long length, Span<NbdExtent> extents) => inner.GetAllocation(offset, length, extents);
}
