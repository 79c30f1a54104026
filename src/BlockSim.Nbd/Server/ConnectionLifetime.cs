using BlockSim.Nbd.Server.Transport;

namespace BlockSim.Nbd.Server;

/// <summary>
/// Where a connection is in its life, as its transmission needs to know it: whether to stop taking
/// requests, whether the client has gone, the token that cancels what runs, and when the client was last
/// heard from. <see cref="NbdConnection"/> decides when to stop (server stop, idle timeout, reclaim); the
/// transmission reports a departed client and activity. The flags are read across threads (timer, sender,
/// request threads), hence volatile.
/// </summary>
internal sealed class ConnectionLifetime(ConnectionTransport transport)
{
    // Never disposed: its only timer is the drain period at server stop, and the handshake disposes the
    // linked source it makes from it.
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _stopping;
    private volatile bool _departed;
    private long _lastActivity = Environment.TickCount64;

    /// <summary>Cancelled when running requests must give up: the drain at server stop ran out, or the client left.</summary>
    public CancellationToken Stopped => _stop.Token;

    /// <summary>No new request is to be read or started.</summary>
    public bool IsStopping => _stopping;

    /// <summary>The client closed or reset its connection: replies have nowhere to go.</summary>
    public bool HasDeparted => _departed;

    /// <summary>When a request or a reply last went by (Environment.TickCount64).</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    public void Touch() => Volatile.Write(ref _lastActivity, Environment.TickCount64);

    /// <summary>Stops taking requests: the receive loop wakes and ends; what runs goes on.</summary>
    public void StopReceiving()
    {
        _stopping = true;
        transport.StopReceiving();
    }

    /// <summary>Running requests get <paramref name="drain"/> to finish before <see cref="Stopped"/> cancels them.</summary>
    public void CancelAfter(TimeSpan drain) => _stop.CancelAfter(drain);

    /// <summary>
    /// The client closed or reset its connection: stop reading, drop what it queued and cancel what runs, so
    /// its slot, threads and memory are free at once instead of serving replies nobody will read.
    /// </summary>
    public void ClientDeparted()
    {
        if (_departed)
        {
            return;
        }

        _departed = true;
        StopReceiving();
        try
        {
            _stop.Cancel();
        }
        catch (AggregateException)
        {
            // a callback of a cancelled request failed; the request reports its own end
        }
    }
}
