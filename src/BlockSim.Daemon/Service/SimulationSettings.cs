using System.Globalization;
using BlockSim.Daemon.Volumes;
using BlockSim.Storage;
using BlockSim.Storage.Simulation;
using BlockSim.Storage.Simulation.Latency;
using BlockSim.Storage.Simulation.Profiles;

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

    /// <summary>Each read's service time, drawn from a distribution (see <see cref="LatencyDistribution"/>): "lognormal:p50=100us,p99=400us".</summary>
    public string? ReadLatency { get; set; }

    /// <summary>Each write's service time, as <see cref="ReadLatency"/>.</summary>
    public string? WriteLatency { get; set; }

    /// <summary>Each flush's service time, as <see cref="ReadLatency"/>.</summary>
    public string? FlushLatency { get; set; }

    /// <summary>A spinning disk's geometry (see <see cref="HddGeometry"/>): "rpm=7200,seek=8.5ms,track=1ms,rate=150M", or "default".</summary>
    public string? Hdd { get; set; }

    /// <summary>An SSD's geometry (see <see cref="SsdGeometry"/>): "op=7%,page=4K,block=256K,...", or "default".</summary>
    public string? Ssd { get; set; }

    /// <summary>Requests served at once under the latency distributions; the rest queue (default 1).</summary>
    public int? Channels { get; set; }

    /// <summary>A cloud volume type to behave like, for the export's size: aws-gp2, aws-gp3, aws-io2, aws-st1 or aws-sc1 (see <see cref="VolumeProfile"/>).</summary>
    public string? Profile { get; set; }

    /// <summary>The IOPS aws-gp3 (3000 to 16000, default 3000) or aws-io2 (required) is provisioned with.</summary>
    public int? ProvisionedIops { get; set; }

    /// <summary>The throughput aws-gp3 is provisioned with, bytes per second with K, M, G ("250M"; default 125M).</summary>
    public string? ProvisionedThroughput { get; set; }

    /// <summary>Credits a burstable profile starts with (gp2: I/O credits; st1, sc1: bytes), to reach the end of a burst sooner; unset: a full bucket.</summary>
    public double? InitialCredits { get; set; }

    /// <summary>
    /// The seed of every random decision the export's simulation makes (fault rules, failReads/failWrites);
    /// unset, one is generated at start-up and logged, so a run can be repeated.
    /// </summary>
    public long? Seed { get; set; }

    public bool IsEmpty => LatencyMs <= 0 && FailReads <= 0 && FailWrites <= 0 && Iops <= 0 && Bandwidth is null && !VolatileCache && Profile is null && !HasLatencyModel && Hdd is null && Ssd is null;

    private bool HasLatencyModel => ReadLatency is not null || WriteLatency is not null || FlushLatency is not null;

    /// <summary>Null when the settings make sense, else what is wrong, with an example.</summary>
    public string? Problem(string where)
    {
        var problems = new List<string>();
        AddProblems("simulation", problems);
        return problems.Count == 0 ? null : $"{where}: {string.Join(" ", problems)}";
    }

    /// <summary>Adds a message for each value out of its range (<see cref="SettingRanges"/>), named <paramref name="prefix"/>.key.</summary>
    public void AddProblems(string prefix, List<string> problems)
    {
        problems.AddRange(new[]
        {
            SettingRanges.DelayMilliseconds.Problem($"{prefix}.latencyMs", LatencyMs),
            SettingRanges.DelayMilliseconds.Problem($"{prefix}.jitterMs", JitterMs),
            SettingRanges.Probability.Problem($"{prefix}.failReads", FailReads),
            SettingRanges.Probability.Problem($"{prefix}.failWrites", FailWrites),
            SettingRanges.Iops.Problem($"{prefix}.iops", Iops),
            Bandwidth is null ? null : SettingRanges.Bandwidth.Problem($"{prefix}.bandwidth", Bandwidth),
            ProvisionedThroughput is null ? null : SettingRanges.Bandwidth.Problem($"{prefix}.provisionedThroughput", ProvisionedThroughput),
            InitialCredits is { } credits ? SettingRanges.Credits.Problem($"{prefix}.initialCredits", credits) : null,
            ProfileProblem(prefix),
            ParseProblem($"{prefix}.hdd", Hdd, text => Geometry(text)),
            ParseProblem($"{prefix}.ssd", Ssd, text => SsdGeometry.Parse(text)),
            Hdd is not null && Ssd is not null ? $"{prefix}.ssd {Ssd}: a disk is a spinning one (hdd) or a solid-state one (ssd), not both." : null,
            ParseProblem($"{prefix}.readLatency", ReadLatency, text => LatencyDistribution.Parse(text)),
            ParseProblem($"{prefix}.writeLatency", WriteLatency, text => LatencyDistribution.Parse(text)),
            ParseProblem($"{prefix}.flushLatency", FlushLatency, text => LatencyDistribution.Parse(text)),
            Channels is { } channels ? SettingRanges.Channels.Problem($"{prefix}.channels", channels) : null,
            Channels is not null && !HasLatencyModel ? $"{prefix}.channels {Channels}: channels serve requests under readLatency, writeLatency or flushLatency; give one of them, e.g. \"lognormal:p50=100us,p99=400us\"." : null,
        }.OfType<string>());
    }

    /// <summary>
    /// The profile for a device of <paramref name="capacity"/> bytes, or null without one.
    /// </summary>
    /// <exception cref="ConfigurationProblem">The profile does not allow what is provisioned, at this size.</exception>
    public VolumeProfile? ProfileFor(long capacity, string where)
    {
        if (Profile is null)
        {
            return null;
        }

        long? throughput = ProvisionedThroughput is not null && ByteSize.TryParse(ProvisionedThroughput, out var t) ? t : null;
        try
        {
            return VolumeProfile.For(Profile, capacity, ProvisionedIops, throughput);
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationProblem($"{where}.profile {Profile}: {e.Message}");
        }
    }

    private static HddGeometry Geometry(string text) => text == "default" ? HddGeometry.Default : HddGeometry.Parse(text);

    /// <summary>Null when <paramref name="text"/> is absent or <paramref name="parse"/> takes it; else its refusal, named <paramref name="key"/>.</summary>
    private static string? ParseProblem(string key, string? text, Action<string> parse)
    {
        try
        {
            if (text is not null)
            {
                parse(text);
            }

            return null;
        }
        catch (FormatException e)
        {
            return $"{key} {e.Message}";
        }
    }

    // What can be checked before the size is known: the name, and what is provisioned, at the largest size.
    private string? ProfileProblem(string prefix)
    {
        if (Profile is null)
        {
            return ProvisionedIops is not null || ProvisionedThroughput is not null || InitialCredits is not null
                ? $"{prefix}.profile (none): provisionedIops, provisionedThroughput and initialCredits belong to a profile; give \"profile\", e.g. \"aws-gp3\"."
                : null;
        }

        try
        {
            ProfileFor(VolumeProfile.TiB * 64, prefix);
            return null;
        }
        catch (ConfigurationProblem e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// What depends on the device's size (an SSD's flash map, a profile's baseline): checked when a volume's
    /// header is read at start-up, so a setting that cannot fit it stops the daemon then, naming the export,
    /// rather than refusing the first client to attach.
    /// </summary>
    /// <exception cref="ConfigurationProblem">The setting cannot serve a device of <paramref name="capacity"/> bytes.</exception>
    public void CheckFor(long capacity, string where)
    {
        if (Ssd is not null)
        {
            var geometry = SsdGeometry.Parse(Ssd);
            if (capacity / geometry.PageBytes > 1L << 26)
            {
                throw new ConfigurationProblem($"{where}.ssd {Ssd}: the flash map of a {capacity >> 30} GiB device in {geometry.PageBytes / 1024} KiB pages is too large to keep (at most 64 Mi pages, 256 GiB at 4K); give larger pages, e.g. page=64K.");
            }
        }

        ProfileFor(capacity, where);
    }

    /// <summary>
    /// What the stack <see cref="Wrap"/> builds over a volume's file will say of itself, known before it is
    /// built: an INFO before the volume's first attach answers with it. Only a spinning disk changes it;
    /// every other layer passes on what is beneath.
    /// </summary>
    public DeviceTraits Traits => Hdd is not null ? new DeviceTraits(IsRotational: true, HddDevice.Offers) : DeviceTraits.File;

    /// <summary>
    /// Wraps a ciphertext device in the simulated behaviour; the layers made are handed back in
    /// <paramref name="layers"/>, so a power cut and the control API can reach them.
    /// </summary>
    public IBlockDevice Wrap(IBlockDevice device, long seed, SimulationLayers layers)
    {
        if (Hdd is not null)
        {
            device = layers.Hdd = new HddDevice(device, Geometry(Hdd), unchecked((int)seed ^ 0x4844));
        }

        CheckFor(device.Capacity, "simulation");
        if (Ssd is not null)
        {
            device = layers.Ssd = new SsdDevice(device, SsdGeometry.Parse(Ssd));
        }

        if (VolatileCache)
        {
            device = layers.Cache = new VolatileCacheDevice(device);
        }

        if (ProfileFor(device.Capacity, "simulation") is { } profile)
        {
            device = layers.Profile = new ProfileDevice(device, profile, InitialCredits);
        }

        long? bandwidth = Bandwidth is not null && ByteSize.TryParse(Bandwidth, out var b) ? b : null;
        if (Iops > 0 || bandwidth is not null)
        {
            device = layers.Throttle = new ThrottleDevice(device, bandwidth, Iops > 0 ? Iops : null);
        }

        if (HasLatencyModel)
        {
            device = layers.Queue = new QueuedLatencyDevice(device, Distribution(ReadLatency), Distribution(WriteLatency), Distribution(FlushLatency), Channels ?? 1, unchecked((int)(seed >> 32)));
        }

        if (LatencyMs > 0)
        {
            device = layers.Latency = new LatencyDevice(device, TimeSpan.FromMilliseconds(LatencyMs), TimeSpan.FromMilliseconds(JitterMs));
        }

        if (FailReads > 0 || FailWrites > 0)
        {
            device = layers.Faults = new FaultInjectionDevice(device, new FaultOptions { ReadProbability = FailReads, WriteProbability = FailWrites, Seed = unchecked((int)seed) });
        }

        return device;
    }

    private static LatencyDistribution? Distribution(string? text) => text is null ? null : LatencyDistribution.Parse(text);

    public override string ToString() => string.Join(", ", new[]
    {
        Hdd is { } hdd ? $"a spinning disk ({Geometry(hdd)})" : null,
        Ssd is { } ssd ? $"a solid-state disk ({SsdGeometry.Parse(ssd)})" : null,
        ReadLatency is { } read ? $"reads {read}" : null,
        WriteLatency is { } write ? $"writes {write}" : null,
        FlushLatency is { } flush ? $"flushes {flush}" : null,
        HasLatencyModel ? $"{Channels ?? 1} channel{((Channels ?? 1) == 1 ? "" : "s")}" : null,
        LatencyMs > 0 ? string.Create(CultureInfo.InvariantCulture, $"latency {LatencyMs}±{JitterMs} ms") : null,
        FailReads > 0 ? string.Create(CultureInfo.InvariantCulture, $"read errors p={FailReads}") : null,
        FailWrites > 0 ? string.Create(CultureInfo.InvariantCulture, $"write errors p={FailWrites}") : null,
        Iops > 0 ? $"{Iops} IOPS" : null,
        Bandwidth is { } limit ? $"{limit}/s" : null,
        VolatileCache ? "volatile write cache (kill -USR1 for a power cut)" : null,
        Profile is { } profile ? $"behaves like {profile}" + (InitialCredits is { } credits ? string.Create(CultureInfo.InvariantCulture, $" from {credits} credits") : "") : null,
    }.Where(s => s is not null));
}
