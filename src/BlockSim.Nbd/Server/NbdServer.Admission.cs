using System.Net;

namespace BlockSim.Nbd.Server;

/// <summary>
/// Who gets a connection slot. Per client IP address: a token bucket for new connections, a cap on those
/// still in the handshake and a cap on all of them; over the server, the connection limit. A full table
/// (or a full share of it) first reclaims an idle attached connection, if one has been idle long enough,
/// rather than turning the newcomer away. Refusals are logged at most once per <see cref="s_refusalLogInterval"/>
/// and reason, with the count of the others, so a client hammering the server cannot flood the log.
/// Unix-socket clients have no address and only meet the server-wide limit.
/// </summary>
public sealed partial class NbdServer
{
    private static readonly long s_refusalLogInterval = (long)TimeSpan.FromSeconds(10).TotalMilliseconds;
    private readonly Dictionary<IPAddress, AddressState> _perAddress = [];
    private readonly Dictionary<Refusal, (long LoggedAt, long Suppressed)> _refusals = [];
    private long _lastSweep;

    private enum Refusal
    {
        ServerFull,
        AddressFull,
        Handshakes,
        Rate,
    }

    /// <summary>What one address holds and how fast it may open more.</summary>
    private sealed class AddressState
    {
        public int Connections;
        public int Handshakes;
        public double Tokens;
        public long RefilledAt;
    }

    /// <summary>
    /// Admits a socket from <paramref name="address"/> (null: a Unix socket) or says why not; an admitted
    /// connection is counted in until <see cref="Uncount"/>, and in the handshake until <see cref="HandshakeOver"/>.
    /// </summary>
    private Refusal? Admit(IPAddress? address, string remote)
    {
        if (address is not null && AdmitFromAddress(address, remote) is { } refused)
        {
            return refused;
        }

        if (_connections.Count >= _options.MaxConnections && !TryReclaim(null, remote, "the server's connection limit"))
        {
            if (address is not null)
            {
                Uncount(address, handshakeOver: false, refund: true);
            }

            return Refusal.ServerFull;
        }

        return null;
    }

    private Refusal? AdmitFromAddress(IPAddress address, string remote)
    {
        var now = Environment.TickCount64;
        bool full;
        lock (_perAddress)
        {
            SweepIfLarge(now);
            if (!_perAddress.TryGetValue(address, out var state))
            {
                state = new AddressState { Tokens = _options.ConnectionBurstPerAddress, RefilledAt = now };
                _perAddress[address] = state;
            }

            if (_options.ConnectionsPerSecondPerAddress > 0)
            {
                state.Tokens = Math.Min(_options.ConnectionBurstPerAddress, state.Tokens + ((now - state.RefilledAt) * _options.ConnectionsPerSecondPerAddress / 1000));
                state.RefilledAt = now;
                if (state.Tokens < 1)
                {
                    ForgetIfIdle(address, state);
                    return Refusal.Rate;
                }
            }

            if (state.Handshakes >= _options.MaxHandshakesPerAddress)
            {
                return Refusal.Handshakes;
            }

            full = state.Connections >= _options.MaxConnectionsPerAddress;
            if (!full)
            {
                Count(state);
                return null;
            }
        }

        // Outside the lock: choosing a victim walks the connections and asks each for its idle time.
        if (!TryReclaim(address, remote, "its address's connection limit"))
        {
            return Refusal.AddressFull;
        }

        lock (_perAddress)
        {
            // The reclaimed connection is counted out when it has closed (perhaps already, taking the entry with it).
            if (!_perAddress.TryGetValue(address, out var state))
            {
                state = new AddressState { Tokens = _options.ConnectionBurstPerAddress, RefilledAt = Environment.TickCount64 };
                _perAddress[address] = state;
            }

            Count(state);
        }

        return null;
    }

    private void Count(AddressState state)
    {
        state.Connections++;
        state.Handshakes++;
        if (_options.ConnectionsPerSecondPerAddress > 0)
        {
            state.Tokens--;
        }
    }

    /// <summary>The connection has left the handshake (attached, or closed during it).</summary>
    private void HandshakeOver(IPAddress address)
    {
        lock (_perAddress)
        {
            if (_perAddress.TryGetValue(address, out var state))
            {
                state.Handshakes--;
            }
        }
    }

    private void Uncount(IPAddress address, bool handshakeOver, bool refund = false)
    {
        lock (_perAddress)
        {
            var state = _perAddress[address];
            state.Connections--;
            if (!handshakeOver)
            {
                state.Handshakes--;
            }

            if (refund && _options.ConnectionsPerSecondPerAddress > 0)
            {
                state.Tokens++;
            }

            ForgetIfIdle(address, state);
        }
    }

    /// <summary>An address that holds nothing and whose bucket is full again needs no entry (called under the lock).</summary>
    private void ForgetIfIdle(IPAddress address, AddressState state)
    {
        if (state.Connections == 0 && state.Handshakes == 0 && BucketFull(state, Environment.TickCount64))
        {
            _perAddress.Remove(address);
        }
    }

    private bool BucketFull(AddressState state, long now) =>
        _options.ConnectionsPerSecondPerAddress <= 0
        || state.Tokens + ((now - state.RefilledAt) * _options.ConnectionsPerSecondPerAddress / 1000) >= _options.ConnectionBurstPerAddress;

    /// <summary>
    /// Entries kept only for their buckets (addresses that connected and left) are dropped once full again;
    /// swept at most once a second, and only once there are many, so that many addresses cost bounded memory.
    /// </summary>
    private void SweepIfLarge(long now)
    {
        if (_perAddress.Count < 1024 || now - _lastSweep < 1000)
        {
            return;
        }

        _lastSweep = now;
        foreach (var (address, state) in _perAddress.ToArray())
        {
            if (state.Connections == 0 && state.Handshakes == 0 && BucketFull(state, now))
            {
                _perAddress.Remove(address);
            }
        }
    }

    private int ConnectionsOf(IPAddress? address)
    {
        if (address is null)
        {
            return 0;
        }

        lock (_perAddress)
        {
            return _perAddress.TryGetValue(address, out var state) ? state.Connections : 0;
        }
    }

    /// <summary>
    /// Closes one attached connection idle for at least <see cref="NbdServerOptions.ReclaimIdleAfter"/> (from
    /// <paramref name="sameAddress"/> only, when given): the one whose address holds the most connections, the
    /// longest idle among those, so that a client holding many idle connections loses them before one holding
    /// a single idle disk. False when there is none.
    /// </summary>
    private bool TryReclaim(IPAddress? sameAddress, string newcomer, string limit)
    {
        if (_options.ReclaimIdleAfter <= TimeSpan.Zero)
        {
            return false;
        }

        var threshold = (long)_options.ReclaimIdleAfter.TotalMilliseconds;
        while (true)
        {
            (NbdConnection Connection, long Idle, int Share)? victim = null;
            foreach (var (connection, _, address) in _connections.Values)
            {
                if (sameAddress is not null && !sameAddress.Equals(address))
                {
                    continue;
                }

                var idle = connection.IdleMilliseconds;
                if (idle < threshold)
                {
                    continue;
                }

                var share = sameAddress is null ? ConnectionsOf(address) : 0;
                if (victim is not { } v || share > v.Share || (share == v.Share && idle > v.Idle))
                {
                    victim = (connection, idle, share);
                }
            }

            if (victim is not { } chosen)
            {
                return false;
            }

            if (chosen.Connection.Reclaim())
            {
                ServerLog.IdleReclaimed(_logger, chosen.Connection.Id, chosen.Connection.Identity.Address, chosen.Idle / 1000, newcomer, limit);
                return true;
            }

            // Another newcomer took that one first: look again.
        }
    }

    /// <summary>Logs a refusal, or counts it when one for the same reason was logged less than the interval ago.</summary>
    private void LogRefusal(Refusal refusal, string remote)
    {
        var now = Environment.TickCount64;
        long suppressed;
        lock (_refusals)
        {
            var (loggedAt, count) = _refusals.GetValueOrDefault(refusal, (long.MinValue / 2, 0));
            if (now - loggedAt < s_refusalLogInterval)
            {
                _refusals[refusal] = (loggedAt, count + 1);
                return;
            }

            _refusals[refusal] = (now, 0);
            suppressed = count;
        }

        switch (refusal)
        {
            case Refusal.ServerFull:
                ServerLog.TooManyConnections(_logger, remote, _connections.Count);
                break;
            case Refusal.AddressFull:
                ServerLog.TooManyFromAddress(_logger, remote, _options.MaxConnectionsPerAddress);
                break;
            case Refusal.Handshakes:
                ServerLog.TooManyHandshakes(_logger, remote, _options.MaxHandshakesPerAddress);
                break;
            case Refusal.Rate:
                ServerLog.ConnectingTooFast(_logger, remote, _options.ConnectionsPerSecondPerAddress, _options.ConnectionBurstPerAddress);
                break;
        }

        if (suppressed > 0)
        {
            ServerLog.RefusalsNotLogged(_logger, suppressed, s_refusalLogInterval / 1000);
        }
    }
}
