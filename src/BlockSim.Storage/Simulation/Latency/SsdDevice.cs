using System.Diagnostics;

namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// A solid-state disk: every write goes through a <see cref="FlashTranslationLayer"/>, and costs a program
/// per page plus what the collector had to do to make room (a read and a program per page it moved, an
/// erase per block it freed); a read costs a page read per page; TRIM invalidates whole pages and costs
/// nothing. Requests are served on the geometry's channels, the rest queue, so sustained random writes slow
/// down as the drive fills and the collector moves more, and TRIM (fstrim) gives the speed back.
/// </summary>
public sealed class SsdDevice : DelegatingBlockDevice
{
    private readonly FlashTranslationLayer _flash;
    private readonly ServiceChannels _channels;
    private readonly object _gate = new();

    public SsdDevice(IBlockDevice inner, SsdGeometry geometry)
        : base(inner)
    {
        Geometry = geometry;
        _flash = new FlashTranslationLayer((inner.Capacity + geometry.PageBytes - 1) / geometry.PageBytes, geometry.PagesPerBlock, geometry.OverProvisioning);
        _channels = new ServiceChannels(geometry.Channels);
    }

    public SsdGeometry Geometry { get; }

    public override bool CompletesSynchronously => false;

    /// <summary>The flash's counts so far, read together: pages the host wrote, pages the collector moved, erases, and their write amplification.</summary>
    public (long HostPages, long MovedPages, long Erases, double WriteAmplification) Counts
    {
        get
        {
            lock (_gate)
            {
                return (_flash.HostWrites, _flash.CollectorWrites, _flash.Erases, _flash.WriteAmplification);
            }
        }
    }

    public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var done = PreciseTimer.At(Schedule(Pages(offset, destination.Length).Count * Geometry.ReadSeconds));
        await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        var done = PreciseTimer.At(Schedule(Program(offset, source.Length)));
        await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public override ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        Trim(offset, length); // what the drive keeps of zeroed pages is nothing: they read back as zeros
        return Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken);
    }

    public override ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        Trim(offset, length);
        return Inner.TrimAsync(offset, length, cancellationToken);
    }

    /// <summary>The flash time a write of <paramref name="length"/> bytes at <paramref name="offset"/> costs, the collector's included.</summary>
    public double Program(long offset, long length)
    {
        var (first, count) = Pages(offset, length);
        long moved = 0, erased = 0;
        lock (_gate)
        {
            for (var page = first; page < first + count; page++)
            {
                var (m, e) = _flash.Write((int)page);
                moved += m;
                erased += e;
            }
        }

        return (count * Geometry.ProgramSeconds) + (moved * (Geometry.ReadSeconds + Geometry.ProgramSeconds)) + (erased * Geometry.EraseSeconds);
    }

    private void Trim(long offset, long length)
    {
        // Only pages the range covers whole: a partial page still holds the rest of its data.
        var first = (offset + Geometry.PageBytes - 1) / Geometry.PageBytes;
        var end = (offset + length) / Geometry.PageBytes;
        lock (_gate)
        {
            for (var page = first; page < end; page++)
            {
                _flash.Trim((int)page);
            }
        }
    }

    private (long First, long Count) Pages(long offset, long length)
    {
        var first = offset / Geometry.PageBytes;
        var last = (offset + Math.Max(1, length) - 1) / Geometry.PageBytes;
        return (first, last - first + 1);
    }

    /// <summary>When a request of <paramref name="seconds"/> of flash work arriving now is done, on the first channel free.</summary>
    private long Schedule(double seconds) => _channels.Schedule(Stopwatch.GetTimestamp(), (long)(seconds * Stopwatch.Frequency));
}
