using System.Diagnostics;

namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// A device that takes time to serve requests, as a real one does: each request's service time is drawn
/// from its operation's <see cref="LatencyDistribution"/>, and <see cref="Channels"/> requests are served at
/// once; the rest queue for the first channel free, so latency grows with the queue depth past the channels,
/// as on an SSD with N parallel units or an HDD with one arm. A request completes when its service does
/// (<see cref="PreciseTimer"/>, to tens of microseconds). The draws follow the seed, in arrival order.
/// </summary>
public sealed class QueuedLatencyDevice : DelegatingBlockDevice
{
    private readonly LatencyDistribution? _read;
    private readonly LatencyDistribution? _write;
    private readonly LatencyDistribution? _flush;
    private readonly ServiceChannels _channels;
    private readonly Random _random;
    private readonly object _gate = new();

    public QueuedLatencyDevice(IBlockDevice inner, LatencyDistribution? read, LatencyDistribution? write, LatencyDistribution? flush, int channels, int seed)
        : base(inner)
    {
        (_read, _write, _flush) = (read, write, flush);
        _channels = new ServiceChannels(channels);
        _random = new Random(seed);
    }

    public int Channels => _channels.Count;

    // Requests wait for their service and must overlap while they wait.
    public override bool CompletesSynchronously => false;

    public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var done = Serve(_read);
        await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        var done = Serve(_write);
        await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        var done = Serve(_flush);
        await Inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        await done.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>When a request arriving at <paramref name="now"/> with <paramref name="service"/> ticks of work finishes; takes its channel.</summary>
    public long Schedule(long now, long service) => _channels.Schedule(now, service);

    private Task Serve(LatencyDistribution? distribution)
    {
        if (distribution is null)
        {
            return Task.CompletedTask;
        }

        TimeSpan service;
        lock (_gate)
        {
            service = distribution.Sample(_random);
        }

        return PreciseTimer.At(Schedule(Stopwatch.GetTimestamp(), (long)(service.TotalSeconds * Stopwatch.Frequency)));
    }
}
