using BlockSim.Daemon.Service;
using BlockSim.Storage;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// <c>PATCH /v1/exports/NAME/simulation</c>: new values for the export's configured behaviour, for requests
/// from now on. A layer can only be changed if the export was started with it (latency, throttling,
/// failReads/failWrites), because whether an export's requests may run inline on their connection is
/// decided when it is attached; the answer says so instead of pretending.
/// </summary>
internal sealed class SimulationPatch
{
    public double? LatencyMs { get; set; }

    public double? JitterMs { get; set; }

    public int? Iops { get; set; }

    /// <summary>Bytes per second, with K, M, G; "0" for no limit.</summary>
    public string? Bandwidth { get; set; }

    public double? FailReads { get; set; }

    public double? FailWrites { get; set; }

    /// <summary>A value out of its range, or null.</summary>
    public string? RangeProblem()
    {
        var problems = new List<string?>
        {
            LatencyMs is { } latency ? SettingRanges.DelayMilliseconds.Problem("latencyMs", latency) : null,
            JitterMs is { } jitter ? SettingRanges.DelayMilliseconds.Problem("jitterMs", jitter) : null,
            Iops is { } iops ? SettingRanges.Iops.Problem("iops", iops) : null,
            Bandwidth is { } bandwidth and not "0" ? SettingRanges.Bandwidth.Problem("bandwidth", bandwidth) : null,
            FailReads is { } reads ? SettingRanges.Probability.Problem("failReads", reads) : null,
            FailWrites is { } writes ? SettingRanges.Probability.Problem("failWrites", writes) : null,
        };
        return problems.OfType<string>().FirstOrDefault();
    }

    /// <summary>A layer the patch changes that the export lacks, or null when it can be applied as a whole.</summary>
    public string? MissingLayer(SimulationLayers layers, bool attached)
    {
        var missing = new List<string>();
        if ((LatencyMs ?? JitterMs) is not null && layers.Latency is null)
        {
            missing.Add("latency (start the export with latencyMs above 0)");
        }

        if ((Iops is not null || Bandwidth is not null) && layers.Throttle is null)
        {
            missing.Add("throttling (start it with iops or bandwidth)");
        }

        if ((FailReads ?? FailWrites) is not null && layers.Faults is null)
        {
            missing.Add("failReads/failWrites (start it with one above 0, or add a fault rule with a probability)");
        }

        if (missing.Count == 0)
        {
            return null;
        }

        return attached
            ? $"this export has no {string.Join(", no ", missing)}: which layers an export has is fixed when it is attached."
            : "no client has attached this export yet, so its device and layers do not exist; attach it first.";
    }

    public void Apply(SimulationLayers layers)
    {
        if (layers.Latency is { } latency && (LatencyMs ?? JitterMs) is not null)
        {
            latency.Set(LatencyMs is { } mean ? TimeSpan.FromMilliseconds(mean) : latency.Mean, JitterMs is { } jitter ? TimeSpan.FromMilliseconds(jitter) : latency.Jitter);
        }

        if (layers.Throttle is { } throttle && (Iops is not null || Bandwidth is not null))
        {
            long? bytes = Bandwidth is null ? throttle.BytesPerSecond : Bandwidth == "0" ? null : ByteSize.TryParse(Bandwidth, out var parsed) ? parsed : null;
            throttle.SetLimits(bytes, Iops ?? throttle.Iops);
        }

        if (layers.Faults is { } faults && (FailReads ?? FailWrites) is not null)
        {
            faults.SetProbabilities(FailReads ?? faults.Options.ReadProbability, FailWrites ?? faults.Options.WriteProbability);
        }
    }

    public override string ToString() => string.Join(", ", new[]
    {
        LatencyMs is { } l ? $"latencyMs {l}" : null,
        JitterMs is { } j ? $"jitterMs {j}" : null,
        Iops is { } i ? $"iops {i}" : null,
        Bandwidth is { } b ? $"bandwidth {b}" : null,
        FailReads is { } r ? $"failReads {r}" : null,
        FailWrites is { } w ? $"failWrites {w}" : null,
    }.OfType<string>());
}
