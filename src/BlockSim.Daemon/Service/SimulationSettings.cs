using System.Globalization;
using BlockSim.Storage;
using BlockSim.Storage.Simulation;

namespace BlockSim.Daemon.Service;

/// <summary>
/// Device behaviour to simulate under an export's encryption, where a real disk sits: volatile cache, then
/// throttling, latency and faults on the way in. Bound from the configuration file ("simulation" at the top
/// level for every export, or per export) or built from the <c>serve</c> flags.
/// </summary>
internal sealed class SimulationSettings
{
    public double LatencyMs { get; set; }

    public double JitterMs { get; set; }

    public double FailReads { get; set; }

    public double FailWrites { get; set; }

    public int Iops { get; set; }

    /// <summary>Bytes per second, with K, M, G (e.g. "200M").</summary>
    public string? Bandwidth { get; set; }

    public bool VolatileCache { get; set; }

    public bool IsEmpty => LatencyMs <= 0 && FailReads <= 0 && FailWrites <= 0 && Iops <= 0 && Bandwidth is null && !VolatileCache;

    /// <summary>Null when the settings make sense, else what is wrong, with an example.</summary>
    public string? Problem(string where)
    {
        if (Bandwidth is not null && (!ByteSize.TryParse(Bandwidth, out var bytes) || bytes <= 0))
        {
            return $"{where}: bandwidth {Bandwidth}: give bytes per second, e.g. 200M.";
        }

        if (FailReads is < 0 or > 1 || FailWrites is < 0 or > 1 || LatencyMs < 0 || JitterMs < 0 || Iops < 0)
        {
            return $"{where}: probabilities are 0..1, e.g. --fail-writes 0.01; delays and limits are not negative.";
        }

        return null;
    }

    /// <summary>
    /// Wraps a ciphertext device in the simulated behaviour; a volatile cache is handed to
    /// <paramref name="onCache"/> so a simulated power cut can reach it.
    /// </summary>
    public IBlockDevice Wrap(IBlockDevice device, Action<VolatileCacheDevice> onCache)
    {
        if (VolatileCache)
        {
            var cache = new VolatileCacheDevice(device);
            onCache(cache);
            device = cache;
        }

        long? bandwidth = Bandwidth is not null && ByteSize.TryParse(Bandwidth, out var b) ? b : null;
        if (Iops > 0 || bandwidth is not null)
        {
            device = new ThrottleDevice(device, bandwidth, Iops > 0 ? Iops : null);
        }

        if (LatencyMs > 0)
        {
            device = new LatencyDevice(device, TimeSpan.FromMilliseconds(LatencyMs), TimeSpan.FromMilliseconds(JitterMs));
        }

        if (FailReads > 0 || FailWrites > 0)
        {
            device = new FaultInjectionDevice(device, new FaultOptions { ReadProbability = FailReads, WriteProbability = FailWrites, Seed = Environment.TickCount });
        }

        return device;
    }

    public override string ToString() => string.Join(", ", new[]
    {
        LatencyMs > 0 ? string.Create(CultureInfo.InvariantCulture, $"latency {LatencyMs}±{JitterMs} ms") : null,
        FailReads > 0 ? string.Create(CultureInfo.InvariantCulture, $"read errors p={FailReads}") : null,
        FailWrites > 0 ? string.Create(CultureInfo.InvariantCulture, $"write errors p={FailWrites}") : null,
        Iops > 0 ? $"{Iops} IOPS" : null,
        Bandwidth is { } limit ? $"{limit}/s" : null,
        VolatileCache ? "volatile write cache (kill -USR1 for a power cut)" : null,
    }.Where(s => s is not null));
}
