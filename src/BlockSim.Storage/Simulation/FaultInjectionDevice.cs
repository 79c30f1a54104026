namespace BlockSim.Storage.Simulation;

/// <summary>Which requests fail: a probability per read and per write, optionally only inside byte ranges.</summary>
public sealed record FaultOptions
{
    public double ReadProbability { get; init; }

    public double WriteProbability { get; init; }

    /// <summary>Byte ranges [Start, End) where faults may happen; empty means everywhere.</summary>
    public IReadOnlyList<(long Start, long End)> Ranges { get; init; } = [];

    public int Seed { get; init; }
}

/// <summary>
/// Fails reads and writes with an I/O error (EIO to an NBD client) as a failing disk would. A request fails
/// when it overlaps a configured range and the dice say so; other requests pass through untouched.
/// </summary>
public sealed class FaultInjectionDevice(IBlockDevice inner, FaultOptions options) : DelegatingBlockDevice(inner)
{
    private readonly Random _random = new(options.Seed);
    private FaultOptions _options = options;

    public FaultOptions Options => Volatile.Read(ref _options);

    /// <summary>New probabilities for requests from now on (the control API's PATCH).</summary>
    public void SetProbabilities(double read, double write) => Volatile.Write(ref _options, Options with { ReadProbability = read, WriteProbability = write });

    public long InjectedFaults { get; private set; }

    public override ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        Maybe(offset, destination.Length, Options.ReadProbability, "read");
        return Inner.ReadAsync(offset, destination, cancellationToken);
    }

    public override ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        Maybe(offset, source.Length, Options.WriteProbability, "write");
        return Inner.WriteAsync(offset, source, fua, cancellationToken);
    }

    public override ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        Maybe(offset, length, Options.WriteProbability, "write");
        return Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken);
    }

    private void Maybe(long offset, long length, double probability, string what)
    {
        var ranges = Options.Ranges;
        if (probability <= 0 || (ranges.Count > 0 && !ranges.Any(r => offset < r.End && offset + length > r.Start)))
        {
            return;
        }

        bool fail;
        lock (_random)
        {
            fail = _random.NextDouble() < probability;
            if (fail)
            {
                InjectedFaults++;
            }
        }

        if (fail)
        {
            throw new SimulatedIOException($"simulated {what} error at offset {offset} (fault injection)");
        }
    }
}
