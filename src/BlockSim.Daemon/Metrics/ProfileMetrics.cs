using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using BlockSim.Storage.Simulation.Profiles;

namespace BlockSim.Daemon.Metrics;

/// <summary>
/// The credit balances of exports that behave like a cloud volume type (<see cref="ProfileDevice"/>), read at
/// each scrape: what CloudWatch's BurstBalance shows for EBS, as a count rather than a percentage, with the
/// bucket's size beside it.
/// </summary>
internal static class ProfileMetrics
{
    public const string MeterName = "BlockSim.Simulation";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly ConcurrentDictionary<string, ProfileDevice> s_devices = new(StringComparer.Ordinal);

    static ProfileMetrics()
    {
        s_meter.CreateObservableGauge("blocksim.profile.iops_credits", () => Read(d => d.IopsCreditBalance), "{credit}", "I/O credits left in a burstable profile's bucket (gp2).");
        s_meter.CreateObservableGauge("blocksim.profile.throughput_credits", () => Read(d => d.ThroughputCreditBalance), "By", "Throughput credit left in a burstable profile's bucket (st1, sc1).");
    }

    /// <summary>Observes <paramref name="device"/> as export <paramref name="export"/>'s from now on (a volume's device is made at its first attach).</summary>
    public static void Track(string export, ProfileDevice device) => s_devices[export] = device;

    private static IEnumerable<Measurement<long>> Read(Func<ProfileDevice, double?> balance) =>
        s_devices
            .Select(pair => (pair.Key, Balance: balance(pair.Value)))
            .Where(p => p.Balance is not null)
            .Select(p => new Measurement<long>((long)Math.Max(0, p.Balance!.Value), new KeyValuePair<string, object?>("export", p.Key)));
}
