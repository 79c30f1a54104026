namespace BlockSim.Storage.Simulation;

/// <summary>
/// Adds a delay to every read, write, flush, trim and zero: a fixed <paramref name="mean"/>, or uniformly
/// within ±<paramref name="jitter"/> of it. Timer granularity is about a millisecond.
/// </summary>
public sealed class LatencyDevice(IBlockDevice inner, TimeSpan mean, TimeSpan jitter = default, int seed = 0) : DelegatingBlockDevice(inner)
{
    private readonly Random _random = new(seed);
    private (TimeSpan Mean, TimeSpan Jitter) _delay = (mean, jitter);

    public TimeSpan Mean => _delay.Mean;

    public TimeSpan Jitter => _delay.Jitter;

    /// <summary>Changes the delay for requests that start from now on (the control API's PATCH).</summary>
    public void Set(TimeSpan newMean, TimeSpan newJitter)
    {
        lock (_random)
        {
            _delay = (newMean, newJitter);
        }
    }

    // Requests wait on timers and must overlap while they wait, as on a real disk's queue.
    public override bool CompletesSynchronously => false;

    public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        await DelayAsync(cancellationToken).ConfigureAwait(false);
        await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        await DelayAsync(cancellationToken).ConfigureAwait(false);
        await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await DelayAsync(cancellationToken).ConfigureAwait(false);
        await Inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        await DelayAsync(cancellationToken).ConfigureAwait(false);
        await Inner.TrimAsync(offset, length, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        await DelayAsync(cancellationToken).ConfigureAwait(false);
        await Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The delay the next request gets.</summary>
    public TimeSpan NextDelay()
    {
        double sample;
        (TimeSpan Mean, TimeSpan Jitter) now;
        lock (_random)
        {
            sample = (_random.NextDouble() * 2) - 1;
            now = _delay;
        }

        var delay = now.Mean + (now.Jitter * sample);
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay;
    }

    private Task DelayAsync(CancellationToken cancellationToken)
    {
        var delay = NextDelay();
        return delay == TimeSpan.Zero ? Task.CompletedTask : Task.Delay(delay, cancellationToken);
    }
}
