using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace BlockSim.Daemon.Service;

/// <summary>
/// What <c>serve</c> runs: listeners, exports and their device behaviour. Built from, in rising order of
/// precedence: the defaults (the embedded default needs nothing), the <c>--config</c> JSON file, environment
/// variables <c>BLOCKSIM__KEY</c> (nested keys joined by <c>__</c>, e.g. <c>BLOCKSIM__Exports__db__ReadOnly=true</c>),
/// then the command-line flags. Unknown keys are errors, so a typo never silently does nothing.
/// </summary>
internal sealed partial class DaemonOptions
{
    public const string EnvironmentPrefix = "BLOCKSIM__";

    /// <summary>Data directory; a relative path is relative to the configuration file.</summary>
    public string? DataDir { get; set; }

    /// <summary>Where the key store lives: a directory (relative to the configuration file), or etcd://HOST:PORT[,...]/PREFIX; default DATA-DIR/keystore.</summary>
    public string? KeyStore { get; set; }

    /// <summary>The key file that unseals the key store (relative to the configuration file); default DATA-DIR/keystore.key.</summary>
    public string? KeyFile { get; set; }

    /// <summary>TLS to the key store's etcd: its CA, and a client certificate and key (paths relative to the configuration file).</summary>
    public KeyStoreTlsSettings KeyStoreTls { get; set; } = new();

    /// <summary>TCP listeners, ADDR:PORT, each optionally with its own TLS mode: ADDR:PORT,tls=off|on|require.</summary>
    public List<string> Listen { get; set; } = [];

    /// <summary>Unix socket path (optionally PATH,tls=MODE), or "none"; default DATA-DIR/nbd.sock.</summary>
    public string? Socket { get; set; }

    /// <summary>The admin socket (key-store operations for local administrators), or "none"; default DATA-DIR/admin.sock.</summary>
    public string? Control { get; set; }

    /// <summary>The group whose members may use the admin socket (0660); without that group, only the daemon's user (0600).</summary>
    public string ControlGroup { get; set; } = Admin.AdminSocketAccess.DefaultGroup;

    /// <summary>Size of the volume "default" when it is first created.</summary>
    public string DefaultSize { get; set; } = "1G";

    /// <summary>The export a client gets when it names none.</summary>
    public string? DefaultExport { get; set; }

    /// <summary>Loopback ADDR:PORT for the Prometheus endpoint (/metrics); off when unset.</summary>
    public string? Metrics { get; set; }

    /// <summary>Simulation for every export without its own.</summary>
    public SimulationSettings Simulation { get; set; } = new();

    /// <summary>TLS for NBD (STARTTLS): certificate, key, client CA, default mode.</summary>
    public TlsSettings Tls { get; set; } = new();

    /// <summary>Connection limits.</summary>
    public LimitSettings Limits { get; set; } = new();

    /// <summary>How much the key store's audit log writes, and in how large segments.</summary>
    public AuditSettings Audit { get; set; } = new();

    /// <summary>How to reach the Ceph cluster that holds the volumes named rbd:POOL/IMAGE.</summary>
    public CephSettings Ceph { get; set; } = new();

    /// <summary>Exports by name. Empty: every volume in the data directory, each as its own name.</summary>
    public Dictionary<string, ExportSettings> Exports { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Not a setting (internal, so the binder never fills it from a file): the flags that point a management
    /// command at this daemon's data, e.g. "--config blocksim.json", for the commands its messages suggest.
    /// </summary>
    internal string ManagementFlags { get; set; } = "";

    /// <summary>Loads the file (if any) and the environment; a bad file is a <see cref="ConfigurationProblem"/>.</summary>
    public static DaemonOptions Load(string? path)
    {
        var builder = new ConfigurationBuilder();
        if (path is not null)
        {
            var full = Path.GetFullPath(path);
            if (!File.Exists(full))
            {
                throw new ConfigurationProblem($"--config {path}: no such file.");
            }

            builder.AddJsonFile(full, optional: false, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables(EnvironmentPrefix);
        var options = new DaemonOptions();
        IConfigurationRoot? configuration = null;
        try
        {
            configuration = builder.Build();
            if (UnknownSettings.Find(configuration, typeof(DaemonOptions)) is { Count: > 0 } unknown)
            {
                throw new ConfigurationProblem(string.Join(Environment.NewLine, unknown.Select(u => $"{Source(configuration, path, u[..u.IndexOf(':', StringComparison.Ordinal)].Replace('.', ':'))}: {u}")));
            }

            configuration.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
            KeepEmptyAllowLists(configuration, options);
        }
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException or FormatException)
        {
            // A value the binder cannot convert (an int past 2^31, "maybe" for a flag) is named like one out of range.
            for (Exception? cause = e; cause is not null; cause = cause.InnerException)
            {
                if (UnconvertibleValue().Match(cause.Message) is { Success: true } match)
                {
                    throw new ConfigurationProblem($"{Source(configuration, path, match.Groups[2].Value)}: {SettingRanges.Unconvertible(match.Groups[2].Value, match.Groups[1].Value, match.Groups[3].Value)}");
                }
            }

            // JSON that does not parse: where, in the words of lines and columns (the reader counts from 0).
            for (Exception? cause = e; cause is not null; cause = cause.InnerException)
            {
                if (cause is System.Text.Json.JsonException { LineNumber: { } line, BytePositionInLine: { } column } json)
                {
                    var reason = json.Message.Split(" LineNumber:")[0].Split(" Path:")[0].TrimEnd('.', ' ');
                    throw new ConfigurationProblem($"{path} line {line + 1}, column {column + 1}: this is not well-formed JSON: {reason}.");
                }
            }

            // The outer messages are generic ("binding has failed"); the causes name the key or the line.
            var causes = new List<string>();
            for (Exception? cause = e.InnerException ?? e; cause is not null; cause = cause.InnerException)
            {
                causes.Add(cause.Message.TrimEnd('.'));
            }

            throw new ConfigurationProblem($"{path ?? "environment (BLOCKSIM__...)"}: {string.Join(": ", causes)}. The keys are listed in README.md (\"Configuration file\").");
        }

        if (options.Problems() is { Count: > 0 } problems)
        {
            // Each problem starts with its key, e.g. "limits.idleTimeoutSeconds 1E+30: give ...".
            throw new ConfigurationProblem(string.Join(Environment.NewLine, problems.Select(p => $"{Source(configuration, path, p[..p.IndexOf(' ', StringComparison.Ordinal)].Replace('.', ':'))}: {p}")));
        }

        if (path is not null)
        {
            options.ResolveRelativeTo(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }

        return options;
    }

    /// <summary>
    /// Every value out of its range (see <see cref="SettingRanges"/>), each naming its key as the file writes
    /// it, the value and what to give; empty when all are in range. Checked at load, before anything is
    /// created, so a bad value never gets as far as a key store or a volume.
    /// </summary>
    public List<string> Problems()
    {
        var problems = new List<string>();
        Add(SettingRanges.VolumeSizeProblem("defaultSize", DefaultSize));
        foreach (var listener in Listen)
        {
            if (listener is null)
            {
                Add($"listen {SettingRanges.Given(null)}: give ADDR:PORT, e.g. 127.0.0.1:10809, for each listener.");
                continue;
            }

            var comma = listener.LastIndexOf(",tls=", StringComparison.Ordinal);
            SettingRanges.Endpoint("listen", comma < 0 ? listener : listener[..comma], out var problem);
            Add(problem);
        }

        if (Metrics is not null)
        {
            SettingRanges.Endpoint("metrics", Metrics, out var problem);
            Add(problem);
        }

        if (KeyStore is not null && BlockSim.KeyStore.Etcd.EtcdStoreAddress.IsEtcd(KeyStore))
        {
            try
            {
                _ = BlockSim.KeyStore.Etcd.EtcdStoreAddress.Parse(KeyStore);
            }
            catch (BlockSim.KeyStore.KeyStoreException e)
            {
                Add($"keyStore: {e.Message}");
            }
        }

        Limits.AddProblems(problems);
        Audit.AddProblems(problems);
        Ceph.AddProblems(problems);
        Simulation.AddProblems("simulation", problems);
        if (ControlGroup is null)
        {
            Add($"controlGroup {SettingRanges.Given(null)}: give a group name, e.g. {Admin.AdminSocketAccess.DefaultGroup}.");
        }

        foreach (var (name, export) in Exports.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (export is null)
            {
                Add($"exports.{name} {SettingRanges.Given(null)}: give the export's settings as an object, e.g. {{ \"memory\": true }}.");
                continue;
            }

            if (export.AllowedClients?.Any(client => client is null) == true)
            {
                Add($"exports.{name}.allowedClients {SettingRanges.Given(null)}: give each client identity as text, e.g. \"CN=alice\".");
            }

            if (export.Memory && export.Size is not null)
            {
                Add(SettingRanges.MemoryExportSize.Problem($"exports.{name}.size", export.Size));
            }
            else if (export.Size is not null)
            {
                // Silently ignoring it would let "size": "5G" look as if it sized a volume.
                Add($"exports.{name}.size {export.Size}: only a memory export (\"memory\": true) takes a size; a volume's is set by 'blocksim volume create' or 'volume resize' (and the first 'default' by defaultSize).");
            }

            export.Simulation?.AddProblems($"exports.{name}.simulation", problems);
        }

        return problems;

        void Add(string? problem)
        {
            if (problem is not null)
            {
                problems.Add(problem);
            }
        }
    }

    /// <summary>
    /// The binder drops an empty array, which would turn "allowedClients": [] (nobody) into "not set"
    /// (everybody); the key is still there, with no value, so the intent is restored and refused later.
    /// </summary>
    private static void KeepEmptyAllowLists(IConfiguration configuration, DaemonOptions options)
    {
        foreach (var (name, export) in options.Exports)
        {
            var key = $"Exports:{name}:AllowedClients";
            if (export.AllowedClients is null && configuration.AsEnumerable().Any(pair => string.Equals(pair.Key, key, StringComparison.OrdinalIgnoreCase)))
            {
                export.AllowedClients = [];
            }
        }
    }

    /// <summary>Where a key's value came from: a BLOCKSIM__ variable (they win over the file), else the file.</summary>
    private static string Source(IConfigurationRoot? configuration, string? path, string key) =>
        configuration?.Providers.OfType<Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationProvider>().Any(p => p.TryGet(key, out _)) == true || path is null
            ? $"environment (BLOCKSIM__{key.Replace(":", "__", StringComparison.Ordinal)})"
            : path;

    /// <summary>The binder's "Failed to convert configuration value 'V' at 'K:E:Y' to type 'T'".</summary>
    [GeneratedRegex("configuration value '(.*)' at '([^']+)' to type '([^']+)'")]
    private static partial Regex UnconvertibleValue();

    private void ResolveRelativeTo(string directory)
    {
        if (DataDir is not null)
        {
            DataDir = Path.Combine(directory, DataDir);
        }

        if (Socket is not null and not "none")
        {
            Socket = Path.Combine(directory, Socket);
        }

        if (KeyStore is not null && !BlockSim.KeyStore.Etcd.EtcdStoreAddress.IsEtcd(KeyStore))
        {
            KeyStore = Path.Combine(directory, KeyStore);
        }

        if (KeyFile is not null)
        {
            KeyFile = Path.Combine(directory, KeyFile);
        }

        KeyStoreTls.ResolveRelativeTo(directory);

        if (Control is not null and not "none")
        {
            Control = Path.Combine(directory, Control);
        }

        Tls.ResolveRelativeTo(directory);
        if (Ceph.Conf is not null)
        {
            Ceph.Conf = Path.Combine(directory, Ceph.Conf);
        }
    }
}

/// <summary>One export in the configuration file.</summary>
internal sealed class ExportSettings
{
    /// <summary>Volume in the data directory (default: the export's name).</summary>
    public string? Volume { get; set; }

    /// <summary>An in-memory export (not persistent) of <see cref="Size"/> bytes instead of a volume.</summary>
    public bool Memory { get; set; }

    /// <summary>
    /// For a memory export: encrypt it like a volume, under a random key that exists only in the daemon's
    /// memory and is zeroed when the export closes (default: not encrypted). Volumes are always encrypted.
    /// </summary>
    public bool? Encrypted { get; set; }

    public string? Size { get; set; }

    public bool ReadOnly { get; set; }

    public string? Description { get; set; }

    /// <summary>
    /// Client identities that may attach this export (certificate subjects such as "CN=alice", or
    /// "anonymous"); unset: every client. Others get ERR_POLICY for this export only.
    /// </summary>
    public List<string>? AllowedClients { get; set; }

    /// <summary>Device behaviour for this export only (replaces the top-level simulation).</summary>
    public SimulationSettings? Simulation { get; set; }

    /// <summary>
    /// Record the export's writes for the crash-state explorer into the log of this name (in the recordings
    /// folder) from its very first write: the recording starts as the export's device is made (at start-up for
    /// a memory export, at the first attach for a volume), before any request is served.
    /// </summary>
    public string? Record { get; set; }
}

/// <summary>
/// Limits on what clients may hold and how fast they may come, with defaults for a daemon others can reach:
/// they suit the kernel client (which sends nothing while idle, and opens up to 64 connections at once).
/// </summary>
internal sealed class LimitSettings
{
    public int MaxConnections { get; set; } = 1024;

    public int MaxConnectionsPerAddress { get; set; } = 64;

    /// <summary>Connections one address may have in the handshake at once (before choosing an export).</summary>
    public int MaxHandshakesPerAddress { get; set; } = 8;

    /// <summary>New connections one address may open per second, on average (0: no limit); Unix-socket clients are not limited.</summary>
    public double ConnectionsPerSecondPerAddress { get; set; } = 20;

    /// <summary>Connections one address may open at once before the rate applies.</summary>
    public int ConnectionBurstPerAddress { get; set; } = 64;

    /// <summary>
    /// Close attached connections idle this long (0: never, the default: the kernel client sends nothing
    /// while its filesystem is idle, so a timeout would cut off mounted disks).
    /// </summary>
    public double IdleTimeoutSeconds { get; set; }

    /// <summary>When the connection table, or one address's share of it, is full, close a connection idle this long to make room (0: never).</summary>
    public double ReclaimIdleAfterSeconds { get; set; } = 300;

    public double HandshakeTimeoutSeconds { get; set; } = 30;

    public int MaxInFlightRequests { get; set; } = 128;

    /// <summary>Payload bytes one connection may hold, e.g. "64M".</summary>
    public string MaxInFlightBytes { get; set; } = "64M";

    /// <summary>
    /// Payload bytes all connections together may hold, e.g. "4G"; past it the server stops reading from
    /// sockets until replies have gone out. Empty: a quarter of the memory the daemon may use, at least 256M.
    /// </summary>
    public string? MaxMemory { get; set; }

    /// <summary>
    /// Serve a connection to an export without simulated delays on its own thread, one request after
    /// another (false: requests of every export overlap on the thread pool, which lets a single
    /// connection keep several requests to a slow disk in flight).
    /// </summary>
    public bool InlineTransmission { get; set; } = true;

    /// <summary>How long an inline connection watches for the next request before it sleeps (0: never spins).</summary>
    public double InlineSpinMicroseconds { get; set; } = 50;

    /// <summary>Adds a message for each limit out of its range (<see cref="SettingRanges"/>).</summary>
    public void AddProblems(List<string> problems)
    {
        problems.AddRange(new[]
        {
            SettingRanges.Connections.Problem("limits.maxConnections", MaxConnections),
            SettingRanges.Connections.Problem("limits.maxConnectionsPerAddress", MaxConnectionsPerAddress),
            SettingRanges.Connections.Problem("limits.maxHandshakesPerAddress", MaxHandshakesPerAddress),
            SettingRanges.ConnectionsPerSecond.Problem("limits.connectionsPerSecondPerAddress", ConnectionsPerSecondPerAddress),
            SettingRanges.Connections.Problem("limits.connectionBurstPerAddress", ConnectionBurstPerAddress),
            SettingRanges.IdleTimeoutSeconds.Problem("limits.reclaimIdleAfterSeconds", ReclaimIdleAfterSeconds),
            SettingRanges.IdleTimeoutSeconds.Problem("limits.idleTimeoutSeconds", IdleTimeoutSeconds),
            SettingRanges.HandshakeTimeoutSeconds.Problem("limits.handshakeTimeoutSeconds", HandshakeTimeoutSeconds),
            SettingRanges.InFlightRequests.Problem("limits.maxInFlightRequests", MaxInFlightRequests),
            SettingRanges.InFlightBytes.Problem("limits.maxInFlightBytes", MaxInFlightBytes),
            string.IsNullOrEmpty(MaxMemory) ? null : SettingRanges.Memory.Problem("limits.maxMemory", MaxMemory),
            SettingRanges.InlineSpinMicroseconds.Problem("limits.inlineSpinMicroseconds", InlineSpinMicroseconds),
        }.OfType<string>());
    }

    /// <summary>The server options, or a problem that says which limit is wrong.</summary>
    public Nbd.Server.NbdServerOptions ToServerOptions()
    {
        var problems = new List<string>();
        AddProblems(problems);
        if (problems.Count > 0 || !SettingRanges.InFlightBytes.TryParse(MaxInFlightBytes, out var bytes))
        {
            throw new ConfigurationProblem(string.Join(Environment.NewLine, problems));
        }

        var memory = Nbd.Server.NbdServerOptions.DefaultMaxMemory;
        if (!string.IsNullOrEmpty(MaxMemory))
        {
            SettingRanges.Memory.TryParse(MaxMemory, out memory); // in range: checked above
        }

        return new Nbd.Server.NbdServerOptions
        {
            MaxMemory = memory,
            MaxConnections = MaxConnections,
            MaxConnectionsPerAddress = MaxConnectionsPerAddress,
            MaxHandshakesPerAddress = MaxHandshakesPerAddress,
            ConnectionsPerSecondPerAddress = ConnectionsPerSecondPerAddress,
            ConnectionBurstPerAddress = ConnectionBurstPerAddress,
            IdleTimeout = TimeSpan.FromSeconds(IdleTimeoutSeconds),
            ReclaimIdleAfter = TimeSpan.FromSeconds(ReclaimIdleAfterSeconds),
            HandshakeTimeout = TimeSpan.FromSeconds(HandshakeTimeoutSeconds),
            MaxInFlightRequests = MaxInFlightRequests,
            MaxInFlightBytes = bytes,
            InlineTransmission = InlineTransmission,
            InlineSpin = TimeSpan.FromMicroseconds(InlineSpinMicroseconds),
        };
    }
}

/// <summary>The ceph section: the cluster that holds volumes named rbd:POOL/IMAGE (read only when one is served).</summary>
internal sealed class KeyStoreTlsSettings
{
    /// <summary>The CA (PEM) the etcd members' certificates must chain to; TLS is on when it is given.</summary>
    public string? Ca { get; set; }

    /// <summary>This daemon's client certificate (PEM), for etcd's --client-cert-auth.</summary>
    public string? Cert { get; set; }

    /// <summary>The client certificate's private key (PEM).</summary>
    public string? Key { get; set; }

    public void ResolveRelativeTo(string directory)
    {
        Ca = Ca is null ? null : Path.Combine(directory, Ca);
        Cert = Cert is null ? null : Path.Combine(directory, Cert);
        Key = Key is null ? null : Path.Combine(directory, Key);
    }
}

internal sealed class CephSettings
{
    /// <summary>The Ceph configuration file (relative to the configuration file); default: $CEPH_CONF, else where librados looks (/etc/ceph/ceph.conf).</summary>
    public string? Conf { get; set; }

    /// <summary>The Ceph client (cephx user) to connect as; default client.admin, as the rbd tool.</summary>
    public string? Client { get; set; }

    /// <summary>Adds a message for each ceph setting that cannot be right.</summary>
    public void AddProblems(List<string> problems)
    {
        if (Conf is { } conf && !File.Exists(conf))
        {
            problems.Add($"ceph.conf {conf}: no such file; give the Ceph configuration file (with mon_host and the keyring) or leave it out for $CEPH_CONF or /etc/ceph/ceph.conf.");
        }

        if (Client is { } client && !Volumes.CephConnection.IsClientName(client))
        {
            problems.Add($"ceph.client {SettingRanges.Given(client)}: give a Ceph client name, client.ID, e.g. client.blocksim.");
        }
    }
}

/// <summary>The audit section: aggregation of repeated attaches and rotation of the log.</summary>
internal sealed class AuditSettings
{
    /// <summary>
    /// Identical attaches (same client, address, volume and outcome) within this many seconds of one that
    /// was recorded are counted and summarised in one record at the end of the window (0: a record each).
    /// </summary>
    public double AggregationWindowSeconds { get; set; } = 60;

    /// <summary>Size at which the log moves on to a new segment, e.g. "64M" ("0": never).</summary>
    public string SegmentSize { get; set; } = "64M";

    /// <summary>Adds a message for each audit setting out of its range (<see cref="SettingRanges"/>).</summary>
    public void AddProblems(List<string> problems)
    {
        problems.AddRange(new[]
        {
            SettingRanges.AggregationWindowSeconds.Problem("audit.aggregationWindowSeconds", AggregationWindowSeconds),
            SegmentSize == "0" ? null : SettingRanges.AuditSegment.Problem("audit.segmentSize", SegmentSize) is { } problem ? problem + " (or \"0\": never rotate)" : null,
        }.OfType<string>());
    }

    public KeyStore.Audit.AuditOptions ToAuditOptions()
    {
        var problems = new List<string>();
        AddProblems(problems);
        if (problems.Count > 0)
        {
            throw new ConfigurationProblem(string.Join(Environment.NewLine, problems));
        }

        var segment = 0L;
        if (SegmentSize != "0")
        {
            SettingRanges.AuditSegment.TryParse(SegmentSize, out segment); // in range: checked above
        }

        return new KeyStore.Audit.AuditOptions { AggregationWindow = TimeSpan.FromSeconds(AggregationWindowSeconds), SegmentBytes = segment };
    }
}

/// <summary>A configuration the daemon cannot run with; the message says what to change.</summary>
internal sealed class ConfigurationProblem(string message) : Exception(message);
