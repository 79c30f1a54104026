namespace BlockSim.Storage.Simulation;

/// <summary>
/// Limits throughput (bytes per second) and/or IOPS with token buckets: a request waits until the buckets
/// hold enough, so sustained load settles at the limits while short bursts of up to one second's worth pass.
/// </summary>
public sealed class ThrottleDevice : DelegatingBlockDevice
{
    private TokenBucket? _bytes;
    private TokenBucket? _operations;

    // Requests wait on timers for their tokens.
    public override bool CompletesSynchronously => false;

    public ThrottleDevice(IBlockDevice inner, long? bytesPerSecond, int? iops)
        : base(inner)
    {
        SetLimits(bytesPerSecond, iops);
    }

    public long? BytesPerSecond { get; private set; }

    public int? Iops { get; private set; }

    /// <summary>New limits for requests from now on (the control API's PATCH); null or 0: no limit.</summary>
    public void SetLimits(long? bytesPerSecond, int? iops)
    {
        BytesPerSecond = bytesPerSecond is > 0 ? bytesPerSecond : null;
        Iops = iops is > 0 ? iops : null;
        Volatile.Write(ref _bytes, BytesPerSecond is { } b ? new TokenBucket(b) : null);
        Volatile.Write(ref _operations, Iops is { } o ? new TokenBucket(o) : null);
    }

    public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        await TakeAsync(destination.Length, cancellationToken).ConfigureAwait(false);
        await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        await TakeAsync(source.Length, cancellationToken).ConfigureAwait(false);
        await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask TakeAsync(long bytes, CancellationToken cancellationToken)
    {
        var wait = TimeSpan.Zero;
        if (Volatile.Read(ref _bytes) is { } byteBucket)
        {
            wait = byteBucket.Take(bytes);
        }

        if (Volatile.Read(ref _operations) is { } operationBucket)
        {
            var w = operationBucket.Take(1);
            wait = w > wait ? w : wait;
        }

        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A bucket of one second's capacity, refilled continuously; Take returns how long to wait.</summary>
    private sealed class TokenBucket(long perSecond)
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private double _tokens = perSecond;
        private double _last;

        public TimeSpan Take(long amount)
        {
            lock (this)
            {
                var now = _clock.Elapsed.TotalSeconds;
                _tokens = Math.Min(perSecond, _tokens + ((now - _last) * perSecond));
                _last = now;
                _tokens -= amount; // may go negative: the debt is the wait
                return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / perSecond);
            }
        }
    }
}
