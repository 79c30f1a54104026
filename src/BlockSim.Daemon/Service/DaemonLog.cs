using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Service;

/// <summary>
/// The daemon's log lines, with stable event ids (3xxx: start-up and shutdown, 4xxx: volumes and keys,
/// 5xxx: simulation and metrics). None of them carries key material: only ids, paths and counts.
/// </summary>
internal static partial class DaemonLog
{
    [LoggerMessage(3000, LogLevel.Information, "XTS tier: {Tier} ({Cpu})")]
    public static partial void XtsTier(ILogger logger, string tier, string cpu);

    [LoggerMessage(3001, LogLevel.Information, "Ready: serving {Exports}")]
    public static partial void Ready(ILogger logger, string exports);

    [LoggerMessage(3002, LogLevel.Information, "Stopping: answering requests in flight, then closing connections")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(3003, LogLevel.Information, "Stopped: exports flushed, volume keys zeroed")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(3004, LogLevel.Information, "Configuration: {Path}")]
    public static partial void Configuration(ILogger logger, string path);

    [LoggerMessage(3005, LogLevel.Information, "TLS: server certificate {Subject}; client certificates {Clients}")]
    public static partial void TlsReady(ILogger logger, string subject, string clients);

    [LoggerMessage(4000, LogLevel.Information, "Created the sealed key store {Store} with the default key {Alias}")]
    public static partial void KeyStoreCreated(ILogger logger, string store, string alias);

    [LoggerMessage(4013, LogLevel.Information, "Key store {Store} opened with {Slot}")]
    public static partial void KeyStoreOpened(ILogger logger, string store, string slot);

    [LoggerMessage(4001, LogLevel.Warning, "Key store: {Problem}; the good copy is used and the next change rewrites both")]
    public static partial void KeyStoreCopyProblem(ILogger logger, string problem);

    [LoggerMessage(4002, LogLevel.Warning, "The key store is sealed by the key file {KeyFile} (mode {Mode}) beside it. That protects the volumes and the store if they are copied without it, not if the machine or that file is taken. Key use is audited in {Audit}")]
    public static partial void KeyFileWarning(ILogger logger, string keyFile, string mode, string audit);

    [LoggerMessage(4003, LogLevel.Information, "Created the encrypted volume {Path} ({Size} bytes, sparse)")]
    public static partial void VolumeCreated(ILogger logger, string path, long size);

    [LoggerMessage(4004, LogLevel.Information, "Volume {Path} is {Capacity} bytes; the default size only applies when a volume is created")]
    public static partial void ExistingSizeKept(ILogger logger, string path, long capacity);

    [LoggerMessage(4005, LogLevel.Warning, "{Warning}")]
    public static partial void VolumeWarning(ILogger logger, string warning);

    [LoggerMessage(4010, LogLevel.Warning, "Export '{Export}' is not served here for now: {Reason} Clients that choose it are refused until this daemon can take the lock (it asks again at each attach).")]
    public static partial void VolumeHeldElsewhere(ILogger logger, string export, string reason);

    [LoggerMessage(4012, LogLevel.Warning, "Fleet: {Message}")]
    public static partial void VolumeLeases(ILogger logger, string message);

    [LoggerMessage(4011, LogLevel.Error, "Export '{Export}' stopped: {Reason}. Its clients' requests fail and new attaches are refused; the volume is served by its new holder now.")]
    public static partial void VolumeLockLost(ILogger logger, string export, string reason);

    [LoggerMessage(4006, LogLevel.Information, "Attached volume {VolumeId} for export '{Export}' ({Client})")]
    public static partial void Attached(ILogger logger, Guid volumeId, string export, string client);

    [LoggerMessage(4007, LogLevel.Warning, "Export '{Export}' is an in-memory device of {Size} bytes: not encrypted, lost when blocksim stops")]
    public static partial void MemoryExport(ILogger logger, string export, long size);

    [LoggerMessage(4008, LogLevel.Information, "Export '{Export}' is an in-memory device of {Size} bytes, encrypted under a key that exists only in this process: lost when blocksim stops")]
    public static partial void EncryptedMemoryExport(ILogger logger, string export, long size);

    [LoggerMessage(4009, LogLevel.Information, "No volume {Path}: it is created only in a new data directory. Clients that name no export get '{DefaultExport}'; to add one: {Command}")]
    public static partial void NoDefaultVolume(ILogger logger, string path, string defaultExport, string command);

    [LoggerMessage(5000, LogLevel.Warning, "Export '{Export}': simulating device behaviour (under the encryption, where the export is encrypted): {Simulation}")]
    public static partial void Simulating(ILogger logger, string export, string simulation);

    [LoggerMessage(5005, LogLevel.Information, "Export '{Export}': simulation seed {Seed} (set \"seed\" in its simulation to repeat a run's faults)")]
    public static partial void SimulationSeed(ILogger logger, string export, long seed);

    [LoggerMessage(5006, LogLevel.Information, "Export '{Export}': {Caller} {What} (from request {FromSequence})")]
    public static partial void SimulationChanged(ILogger logger, string export, string caller, string what, long fromSequence);

    [LoggerMessage(5001, LogLevel.Warning, "Simulated power cut: {Lost} unflushed sectors lost.")]
    public static partial void PowerCut(ILogger logger, long lost);

    [LoggerMessage(5007, LogLevel.Information, "Export '{Export}': every write is recorded to {Log} from the first (\"record\" in the configuration)")]
    public static partial void RecordingConfigured(ILogger logger, string export, string log);

    [LoggerMessage(5002, LogLevel.Information, "SIGUSR1 ignored: no export has a volatile cache to cut power to")]
    public static partial void PowerCutIgnored(ILogger logger);

    [LoggerMessage(5003, LogLevel.Information, "Metrics (Prometheus text format) on http://{Endpoint}/metrics")]
    public static partial void MetricsListening(ILogger logger, string endpoint);

    [LoggerMessage(5004, LogLevel.Information, "Admin socket (key store for local administrators, callers named by their uid) on {Path}, {Access}")]
    public static partial void AdminListening(ILogger logger, string path, string access);
}
