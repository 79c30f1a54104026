using BlockSim.Nbd.Protocol;
using BlockSim.Storage;

namespace BlockSim.Nbd.Exports;

/// <summary>Serves any <see cref="IBlockDevice"/> (memory, file, encrypted volume, simulated disk) as an export.</summary>
public class BlockDeviceExport(string name, IBlockDevice device, string? description = null) : INbdExport, IDisposable
{
    public string Name { get; } = !string.IsNullOrEmpty(name) ? name : throw new ArgumentException("An export needs a name.", nameof(name));

    public string? Description { get; } = description;

    public IBlockDevice Device { get; } = device;

    public long Size => Device.Capacity;

    public bool IsReadOnly => Device.IsReadOnly;

    // One device object behind every connection to this export: a FLUSH on any connection flushes all writes.
    public bool CanMultiConn => true;

    public bool CompletesSynchronously => Device.CompletesSynchronously;

    public bool IsRotational => Device.IsRotational;

    // What the device stack declares, so a device that cannot trim (a spinning disk) is not said to.
    public bool CanTrim => (Device.Capabilities & BlockDeviceCapabilities.Trim) != 0;

    public bool CanFastZero => (Device.Capabilities & BlockDeviceCapabilities.FastZero) != 0;

    public int MinimumBlockSize => 1;

    public int PreferredBlockSize => Math.Max(4096, Device.SectorSize);

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        Device.ReadAsync(offset, destination, cancellationToken);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua, CancellationToken cancellationToken) =>
        Device.WriteAsync(offset, source, fua, cancellationToken);

    public ValueTask FlushAsync(CancellationToken cancellationToken) => Device.FlushAsync(cancellationToken);

    public ValueTask TrimAsync(long offset, long length, bool fua, CancellationToken cancellationToken) =>
        Device.TrimAsync(offset, length, cancellationToken);

    public async ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly, bool fua, CancellationToken cancellationToken)
    {
        try
        {
            await Device.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken).ConfigureAwait(false);
        }
        catch (NotSupportedException e) when (fastOnly)
        {
            throw new NbdException(NbdError.NotSupported, e.Message);
        }
    }

    public int GetAllocation(long offset, long length, Span<NbdExtent> extents)
    {
        Span<BlockExtent> device = stackalloc BlockExtent[Math.Min(extents.Length, 64)];
        var count = Device.GetAllocation(offset, length, device);
        for (var i = 0; i < count; i++)
        {
            extents[i] = new NbdExtent(
                (uint)device[i].Length,
                device[i].State == Allocation.Hole ? NbdAllocationFlags.Hole | NbdAllocationFlags.Zero : NbdAllocationFlags.Data);
        }

        return count;
    }

    public void Dispose()
    {
        Device.Dispose();
        GC.SuppressFinalize(this);
    }
}
