using System.Diagnostics;

namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// A spinning disk: one arm, so requests are served one at a time in arrival order; each costs a seek by
/// the distance from where the last one ended (none when it starts there: sequential), a rotational wait
/// drawn uniformly from one revolution (none when sequential), and its bytes at the media rate. Reads and
/// writes alike; flush and write-zeroes cost nothing here (a drive's cache takes them). The export says it
/// is rotational (NBD_FLAG_ROTATIONAL), so the Linux client picks a scheduler for a spinning disk; and, as a
/// conventional drive has no TRIM and zeroes only by writing, it advertises neither TRIM nor FAST_ZERO.
/// </summary>
public sealed class HddDevice(IBlockDevice inner, HddGeometry geometry, int seed) : DelegatingBlockDevice(inner)
{
    private readonly Random _random = new(seed);
    private readonly object _gate = new();
    private readonly ServiceChannels _arm = new(1);
    private long _head;

    public HddGeometry Geometry => geometry;

    public override bool IsRotational => true;

    public override bool CompletesSynchronously => false;

    /// <summary>What a spinning disk offers beyond reads and writes: nothing (known before one is built).</summary>
    public const BlockDeviceCapabilities Offers = BlockDeviceCapabilities.None;

    public override BlockDeviceCapabilities Capabilities => Offers;

    public override ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default) =>
        fastOnly
            ? ValueTask.FromException(new NotSupportedException("A spinning disk zeroes a range only by writing it."))
            : Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken);

    public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var done = PreciseTimer.At(Schedule(Stopwatch.GetTimestamp(), offset, destination.Length));
        await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        var done = PreciseTimer.At(Schedule(Stopwatch.GetTimestamp(), offset, source.Length));
        await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>When a request for <paramref name="length"/> bytes at <paramref name="offset"/>, arriving at <paramref name="now"/>, is done; the arm is then there.</summary>
    public long Schedule(long now, long offset, long length)
    {
        // Under the lock, so requests take the arm in the order their seeks were counted from.
        lock (_gate)
        {
            return _arm.Schedule(now, (long)(ServiceSeconds(offset, length) * Stopwatch.Frequency));
        }
    }

    /// <summary>The seek, rotation and transfer of one request (under the lock): moves the head.</summary>
    private double ServiceSeconds(long offset, long length)
    {
        var distance = Math.Abs(offset - _head);
        _head = offset + length;
        var transfer = length / geometry.BytesPerSecond;
        if (distance == 0)
        {
            return transfer;
        }

        var fraction = Math.Min(1, distance / (double)Math.Max(1, Capacity));
        var seek = geometry.TrackToTrackSeconds + ((geometry.FullStrokeSeconds - geometry.TrackToTrackSeconds) * Math.Sqrt(fraction));
        return seek + (_random.NextDouble() * geometry.RotationSeconds) + transfer;
    }
}
