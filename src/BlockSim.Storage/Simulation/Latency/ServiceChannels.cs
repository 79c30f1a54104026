namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// N servers and one queue: a request starts on the first channel free (or on arrival, if one is idle) and
/// holds it for its service time, so past N requests in flight latency grows with the queue, as on a real
/// device. Times are <see cref="System.Diagnostics.Stopwatch"/> ticks. Thread-safe.
/// </summary>
public sealed class ServiceChannels
{
    private readonly long[] _freeAt;

    public ServiceChannels(int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        _freeAt = new long[channels];
    }

    public int Count => _freeAt.Length;

    /// <summary>When a request arriving at <paramref name="now"/> with <paramref name="service"/> ticks of work finishes; takes its channel.</summary>
    public long Schedule(long now, long service)
    {
        lock (_freeAt)
        {
            var channel = 0;
            for (var i = 1; i < _freeAt.Length; i++)
            {
                if (_freeAt[i] < _freeAt[channel])
                {
                    channel = i;
                }
            }

            var finish = Math.Max(now, _freeAt[channel]) + service;
            _freeAt[channel] = finish;
            return finish;
        }
    }
}
