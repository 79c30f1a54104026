namespace BlockSim.Storage.Simulation.Profiles;

/// <summary>
/// A token bucket: <see cref="Rate"/> tokens a second flow in, up to <see cref="Capacity"/>; a request takes
/// what it costs and, when the bucket runs short, waits until the debt has flowed back in. The balance may go
/// negative (the debt is the wait), so requests that arrive together queue behind each other in order.
/// A cloud volume's I/O credit bucket is one (5.4 million credits at 3 a second per GiB for gp2); a
/// one-second bucket at the burst rate is the cap on how fast the credits can be spent.
/// </summary>
public sealed class CreditBucket
{
    private readonly Func<double> _seconds;
    private readonly object _gate = new();
    private double _balance;
    private double _last;

    /// <param name="seconds">The clock, in seconds from any start; a test's own, or a stopwatch's.</param>
    public CreditBucket(double rate, double capacity, double initial, Func<double> seconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegative(initial);
        Rate = rate;
        Capacity = capacity;
        _balance = Math.Min(initial, capacity);
        _seconds = seconds;
        _last = seconds();
    }

    public double Rate { get; }

    public double Capacity { get; }

    /// <summary>Credits in the bucket now (negative: owed by requests still waiting).</summary>
    public double Balance
    {
        get
        {
            lock (_gate)
            {
                Refill();
                return _balance;
            }
        }
    }

    /// <summary>Takes <paramref name="cost"/> credits; returns how long the request must wait for them.</summary>
    public TimeSpan Take(double cost)
    {
        lock (_gate)
        {
            Refill();
            _balance -= cost;
            return _balance >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_balance / Rate);
        }
    }

    private void Refill()
    {
        var now = _seconds();
        _balance = Math.Min(Capacity, _balance + ((now - _last) * Rate));
        _last = now;
    }
}
