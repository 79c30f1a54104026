using System.CommandLine;
using BlockSim.Daemon.Service;

namespace BlockSim.Daemon.Commands;

/// <summary>Device-simulation flags of <c>serve</c>; they apply to every export without settings of its own.</summary>
internal sealed class SimulationOptions
{
    public Option<double?> LatencyMs { get; } = new Option<double?>("--latency-ms") { Description = "Simulated delay per request, in milliseconds (0 to 3600000)." }.InRange(SettingRanges.DelayMilliseconds);

    public Option<double?> JitterMs { get; } = new Option<double?>("--jitter-ms") { Description = "Random variation of the delay, ± milliseconds (0 to 3600000)." }.InRange(SettingRanges.DelayMilliseconds);

    public Option<double?> FailReads { get; } = new Option<double?>("--fail-reads") { Description = "Probability (0..1) that a read fails with EIO." }.InRange(SettingRanges.Probability);

    public Option<double?> FailWrites { get; } = new Option<double?>("--fail-writes") { Description = "Probability (0..1) that a write fails with EIO." }.InRange(SettingRanges.Probability);

    public Option<int?> Iops { get; } = new Option<int?>("--iops") { Description = "Limit on requests per second (0: none, up to 10000000)." }.InRange(SettingRanges.Iops);

    public Option<string?> Bandwidth { get; } = new Option<string?>("--bandwidth") { Description = "Limit on bytes per second (with K, M, G), e.g. 200M." }.InRange(SettingRanges.Bandwidth);

    public Option<bool> VolatileCache { get; } = new("--volatile-cache")
    {
        Description = "Acknowledge writes from a volatile cache; unflushed, non-FUA writes are lost on a simulated power cut (kill -USR1 PID).",
    };

    public Option<long?> Seed { get; } = new("--seed") { Description = "Seed of every random decision of the simulation (fault rules, --fail-*), so a run's faults repeat. Default: generated and logged." };

    public Option<string?> Profile { get; } = new("--profile") { Description = "Behave like a cloud volume type of the export's size: aws-gp2, aws-gp3, aws-io2, aws-st1 or aws-sc1 (IOPS, throughput and burst credits as AWS publishes them)." };

    public Option<int?> ProvisionedIops { get; } = new("--provisioned-iops") { Description = "IOPS an aws-gp3 (3000 to 16000) or aws-io2 (100 to 256000, required) profile is provisioned with." };

    public Option<string?> ProvisionedThroughput { get; } = new Option<string?>("--provisioned-throughput") { Description = "Throughput an aws-gp3 profile is provisioned with, bytes per second (125M to 1000M)." }.InRange(SettingRanges.Bandwidth);

    public Option<double?> InitialCredits { get; } = new Option<double?>("--initial-credits") { Description = "Credits a burstable profile starts with (aws-gp2: I/O credits of 5400000; aws-st1, aws-sc1: bytes), to reach the end of its burst sooner." }.InRange(SettingRanges.Credits);

    public Option<string?> ReadLatency { get; } = new("--read-latency") { Description = "Each read's service time from a distribution: fixed:200us, uniform:100us-300us, lognormal:p50=100us,p99=400us, pareto:min=100us,alpha=2.5 or table:p50=120us,p99=2ms." };

    public Option<string?> WriteLatency { get; } = new("--write-latency") { Description = "Each write's service time, as --read-latency." };

    public Option<string?> FlushLatency { get; } = new("--flush-latency") { Description = "Each flush's service time, as --read-latency." };

    public Option<int?> Channels { get; } = new Option<int?>("--channels") { Description = "Requests served at once under --read-latency and the others (1 to 1024, default 1); the rest queue." }.InRange(SettingRanges.Channels);

    public Option<string?> Hdd { get; } = new("--hdd") { Description = "Behave like a spinning disk: \"default\" (7200 RPM, 8.5 ms average seek) or rpm=7200,seek=8.5ms,track=1ms,rate=150M; advertised as rotational." };

    public Option<string?> Ssd { get; } = new("--ssd") { Description = "Behave like a solid-state disk with a flash translation layer and greedy garbage collection: \"default\" or op=7%,page=4K,block=256K,read=60us,program=200us,erase=2ms,channels=8." };

    public IEnumerable<Option> All => [LatencyMs, JitterMs, FailReads, FailWrites, Iops, Bandwidth, VolatileCache, Seed, Profile, ProvisionedIops, ProvisionedThroughput, InitialCredits, ReadLatency, WriteLatency, FlushLatency, Channels, Hdd, Ssd];

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
        settings.Seed = result.GetValue(Seed) ?? settings.Seed;
        settings.Profile = result.GetValue(Profile) ?? settings.Profile;
        settings.ProvisionedIops = result.GetValue(ProvisionedIops) ?? settings.ProvisionedIops;
        settings.ProvisionedThroughput = result.GetValue(ProvisionedThroughput) ?? settings.ProvisionedThroughput;
        settings.InitialCredits = result.GetValue(InitialCredits) ?? settings.InitialCredits;
        settings.ReadLatency = result.GetValue(ReadLatency) ?? settings.ReadLatency;
        settings.WriteLatency = result.GetValue(WriteLatency) ?? settings.WriteLatency;
        settings.FlushLatency = result.GetValue(FlushLatency) ?? settings.FlushLatency;
        settings.Channels = result.GetValue(Channels) ?? settings.Channels;
        settings.Hdd = result.GetValue(Hdd) ?? settings.Hdd;
        settings.Ssd = result.GetValue(Ssd) ?? settings.Ssd;
        return settings;
    }
}
