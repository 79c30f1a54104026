using System.CommandLine;
using BlockSim.Daemon.Service;

namespace BlockSim.Daemon.Commands;

/// <summary>Device-simulation flags of <c>serve</c>; they apply to every export without settings of its own.</summary>
internal sealed class SimulationOptions
{
    public Option<double?> LatencyMs { get; } = new("--latency-ms") { Description = "Simulated delay per request, in milliseconds." };

    public Option<double?> JitterMs { get; } = new("--jitter-ms") { Description = "Random variation of the delay, ± milliseconds." };

    public Option<double?> FailReads { get; } = new("--fail-reads") { Description = "Probability (0..1) that a read fails with EIO." };

    public Option<double?> FailWrites { get; } = new("--fail-writes") { Description = "Probability (0..1) that a write fails with EIO." };

    public Option<int?> Iops { get; } = new("--iops") { Description = "Limit on requests per second." };

    public Option<string?> Bandwidth { get; } = new("--bandwidth") { Description = "Limit on bytes per second (with K, M, G), e.g. 200M." };

    public Option<bool> VolatileCache { get; } = new("--volatile-cache")
    {
        Description = "Acknowledge writes from a volatile cache; unflushed, non-FUA writes are lost on a simulated power cut (kill -USR1 PID).",
    };

    public IEnumerable<Option> All => [LatencyMs, JitterMs, FailReads, FailWrites, Iops, Bandwidth, VolatileCache];

    /// <summary>Lays the flags given over <paramref name="settings"/> (from the configuration, or empty).</summary>
    public SimulationSettings ApplyTo(ParseResult result, SimulationSettings settings)
    {
        settings.LatencyMs = result.GetValue(LatencyMs) ?? settings.LatencyMs;
        settings.JitterMs = result.GetValue(JitterMs) ?? settings.JitterMs;
        settings.FailReads = result.GetValue(FailReads) ?? settings.FailReads;
        settings.FailWrites = result.GetValue(FailWrites) ?? settings.FailWrites;
        settings.Iops = result.GetValue(Iops) ?? settings.Iops;
        settings.Bandwidth = result.GetValue(Bandwidth) ?? settings.Bandwidth;
        settings.VolatileCache |= result.GetValue(VolatileCache);
        return settings;
    }
}
