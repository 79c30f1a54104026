using System.CommandLine;
using System.Globalization;
using BlockSim.Storage;
using BlockSim.Storage.Simulation;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// Device-simulation flags of <c>serve</c>. The layers go beneath the encryption, where a real disk sits:
/// volatile cache, then throttling, latency and faults on the way in.
/// </summary>
internal sealed class SimulationOptions
{
    public Option<double> LatencyMs { get; } = new("--latency-ms") { Description = "Simulated delay per request, in milliseconds." };

    public Option<double> JitterMs { get; } = new("--jitter-ms") { Description = "Random variation of the delay, ± milliseconds." };

    public Option<double> FailReads { get; } = new("--fail-reads") { Description = "Probability (0..1) that a read fails with EIO." };

    public Option<double> FailWrites { get; } = new("--fail-writes") { Description = "Probability (0..1) that a write fails with EIO." };

    public Option<int> Iops { get; } = new("--iops") { Description = "Limit on requests per second." };

    public Option<string?> Bandwidth { get; } = new("--bandwidth") { Description = "Limit on bytes per second (with K, M, G), e.g. 200M." };

    public Option<bool> VolatileCache { get; } = new("--volatile-cache")
    {
        Description = "Acknowledge writes from a volatile cache; unflushed, non-FUA writes are lost on a simulated power cut (kill -USR1 PID).",
    };

    public IEnumerable<Option> All => [LatencyMs, JitterMs, FailReads, FailWrites, Iops, Bandwidth, VolatileCache];

    /// <summary>Builds the wrapping function, or explains what is wrong with the flags.</summary>
    public bool TryBuild(ParseResult result, out Func<IBlockDevice, IBlockDevice>? wrap, out Func<VolatileCacheDevice?> cache, out string? error)
    {
        wrap = null;
        error = null;
        VolatileCacheDevice? volatileCache = null;
        cache = () => volatileCache;

        var latency = result.GetValue(LatencyMs);
        var jitter = result.GetValue(JitterMs);
        var failReads = result.GetValue(FailReads);
        var failWrites = result.GetValue(FailWrites);
        var iops = result.GetValue(Iops);
        var bandwidthText = result.GetValue(Bandwidth);
        var useCache = result.GetValue(VolatileCache);
        long? bandwidth = null;
        if (bandwidthText is not null)
        {
            if (!Sizes.TryParse(bandwidthText, out var bytes) || bytes <= 0)
            {
                error = $"--bandwidth {bandwidthText}: give bytes per second, e.g. 200M.";
                return false;
            }

            bandwidth = bytes;
        }

        if (failReads is < 0 or > 1 || failWrites is < 0 or > 1 || latency < 0 || jitter < 0 || iops < 0)
        {
            error = "Simulation settings: probabilities are 0..1, e.g. --fail-writes 0.01; delays and limits are not negative.";
            return false;
        }

        var any = latency > 0 || failReads > 0 || failWrites > 0 || iops > 0 || bandwidth is not null || useCache;
        if (!any)
        {
            return true;
        }

        wrap = device =>
        {
            if (useCache)
            {
                device = volatileCache = new VolatileCacheDevice(device);
            }

            if (iops > 0 || bandwidth is not null)
            {
                device = new ThrottleDevice(device, bandwidth, iops > 0 ? iops : null);
            }

            if (latency > 0)
            {
                device = new LatencyDevice(device, TimeSpan.FromMilliseconds(latency), TimeSpan.FromMilliseconds(jitter));
            }

            if (failReads > 0 || failWrites > 0)
            {
                device = new FaultInjectionDevice(device, new FaultOptions { ReadProbability = failReads, WriteProbability = failWrites, Seed = Environment.TickCount });
            }

            return device;
        };
        return true;
    }

    public static string Describe(ParseResult result, SimulationOptions o) => string.Join(", ", new[]
    {
        result.GetValue(o.LatencyMs) > 0 ? $"latency {result.GetValue(o.LatencyMs).ToString(CultureInfo.InvariantCulture)}±{result.GetValue(o.JitterMs).ToString(CultureInfo.InvariantCulture)} ms" : null,
        result.GetValue(o.FailReads) > 0 ? $"read errors p={result.GetValue(o.FailReads).ToString(CultureInfo.InvariantCulture)}" : null,
        result.GetValue(o.FailWrites) > 0 ? $"write errors p={result.GetValue(o.FailWrites).ToString(CultureInfo.InvariantCulture)}" : null,
        result.GetValue(o.Iops) > 0 ? $"{result.GetValue(o.Iops)} IOPS" : null,
        result.GetValue(o.Bandwidth) is { } b ? $"{b}/s" : null,
        result.GetValue(o.VolatileCache) ? "volatile write cache (kill -USR1 for a power cut)" : null,
    }.Where(s => s is not null));
}
