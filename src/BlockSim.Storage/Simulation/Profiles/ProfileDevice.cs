using System.Diagnostics;

namespace BlockSim.Storage.Simulation.Profiles;

/// <summary>
/// Lets reads and writes through at the pace of a <see cref="VolumeProfile"/>: each takes its I/O units
/// (bytes / unit, rounded up, at least one) from a one-second bucket at the IOPS limit and, on a burstable
/// type, from the IOPS credit bucket; and its bytes from a one-second bucket at the throughput limit and,
/// on st1 and sc1, from the throughput credit bucket. A request waits for the longest of those debts, so a
/// gp2 volume runs at 3,000 IOPS while its credits last and then at its baseline, as the real one does.
/// Flush, trim and write-zeroes pass untimed (EBS does not publish what they cost).
/// </summary>
public sealed class ProfileDevice : DelegatingBlockDevice
{
    private readonly CreditBucket? _iops;
    private readonly CreditBucket? _iopsCredits;
    private readonly CreditBucket _throughput;
    private readonly CreditBucket? _throughputCredits;

    /// <param name="initialCredits">
    /// IOPS credits (gp2) or bytes of throughput credit (st1, sc1) to start with, fewer than a new volume's
    /// full bucket to shorten a test; null: a full bucket.
    /// </param>
    /// <param name="seconds">The clock; null: a stopwatch started now.</param>
    public ProfileDevice(IBlockDevice inner, VolumeProfile profile, double? initialCredits = null, Func<double>? seconds = null)
        : base(inner)
    {
        Profile = profile;
        if (seconds is null)
        {
            var clock = Stopwatch.StartNew();
            seconds = () => clock.Elapsed.TotalSeconds;
        }

        if (profile.MaxIops is { } maxIops)
        {
            _iops = new CreditBucket(maxIops, maxIops, maxIops, seconds);
        }

        if (profile.BaselineIops is { } baselineIops)
        {
            _iopsCredits = new CreditBucket(baselineIops, profile.IopsCredits, initialCredits ?? profile.IopsCredits, seconds);
        }

        _throughput = new CreditBucket(profile.MaxBytesPerSecond, profile.MaxBytesPerSecond, profile.MaxBytesPerSecond, seconds);
        if (profile.BaselineBytesPerSecond is { } baselineBytes)
        {
            _throughputCredits = new CreditBucket(baselineBytes, profile.ThroughputCredits, initialCredits ?? profile.ThroughputCredits, seconds);
        }
    }

    public VolumeProfile Profile { get; }

    // Requests wait on timers for their credits.
    public override bool CompletesSynchronously => false;

    /// <summary>IOPS credits left (gp2), or null where the type has none.</summary>
    public double? IopsCreditBalance => _iopsCredits?.Balance;

    /// <summary>Bytes of throughput credit left (st1, sc1), or null where the type has none.</summary>
    public double? ThroughputCreditBalance => _throughputCredits?.Balance;

    public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        await WaitAsync(Cost(destination.Length), cancellationToken).ConfigureAwait(false);
        await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        await WaitAsync(Cost(source.Length), cancellationToken).ConfigureAwait(false);
        await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How long a request of <paramref name="bytes"/> must wait now; takes its credits.</summary>
    public TimeSpan Cost(long bytes)
    {
        var units = Math.Max(1, (bytes + Profile.IoUnitBytes - 1) / Profile.IoUnitBytes);
        var wait = _throughput.Take(bytes);
        wait = Longer(wait, _throughputCredits?.Take(bytes));
        wait = Longer(wait, _iops?.Take(units));
        return Longer(wait, _iopsCredits?.Take(units));
    }

    private static TimeSpan Longer(TimeSpan a, TimeSpan? b) => b is { } other && other > a ? other : a;

    private static async ValueTask WaitAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }
}
