using System.Globalization;
using System.Net;
using BlockSim.Storage;

namespace BlockSim.Daemon.Service;

/// <summary>
/// The allowed range of every numeric setting, shared by the configuration file (and the BLOCKSIM__
/// variables) and the command-line flags, so both refuse the same values in the same words: the setting,
/// the value given, and what to give. Each bound sits well inside what the code under it can take (a
/// TimeSpan, a timer period, a Task.Delay, an int of credits, an array of pages), so a value that is
/// accepted never fails later as an overflow.
/// </summary>
internal static class SettingRanges
{
    /// <summary>30 days: the idle check's timer runs at a quarter of it, far below a timer's 49-day limit.</summary>
    public static readonly NumberRange IdleTimeoutSeconds = new(0, 30 * 86400, "seconds", ZeroMeans: "never");

    /// <summary>The handshake deadline is a CancelAfter, which takes at most 24.8 days; an hour is plenty.</summary>
    public static readonly NumberRange HandshakeTimeoutSeconds = new(0.1, 3600, "seconds");

    public static readonly NumberRange InlineSpinMicroseconds = new(0, 1_000_000, "microseconds");

    public static readonly NumberRange Connections = new(1, 1 << 20);

    /// <summary>New connections per second from one address (limits.connectionsPerSecondPerAddress).</summary>
    public static readonly NumberRange ConnectionsPerSecond = new(0, 1_000_000, "per second", ZeroMeans: "no limit");

    public static readonly NumberRange InFlightRequests = new(1, 65536);

    public static readonly SizeRange InFlightBytes = new(1L << 20, 16L << 30);

    /// <summary>The daemon-wide payload budget (limits.maxMemory); unset: a quarter of the memory the daemon may use.</summary>
    public static readonly SizeRange Memory = new(64L << 20, 64L << 40);

    /// <summary>A day at most: the window's counts live in memory until it ends.</summary>
    public static readonly NumberRange AggregationWindowSeconds = new(0, 86400, "seconds", ZeroMeans: "a record per attach");

    /// <summary>An audit segment ("0": never rotate); a few records at least, and small enough to read whole for verify.</summary>
    public static readonly SizeRange AuditSegment = new(64L << 10, 64L << 30);

    /// <summary>An hour each, so latency plus jitter stays far below Task.Delay's 49-day limit.</summary>
    public static readonly NumberRange DelayMilliseconds = new(0, 3_600_000, "milliseconds");

    public static readonly NumberRange Probability = new(0, 1);

    /// <summary>Parallel service channels of a latency model: an SSD has tens, an HDD one.</summary>
    public static readonly NumberRange Channels = new(1, 1024);

    /// <summary>Credits a burstable profile starts with: gp2's bucket holds 5.4 million, st1's and sc1's a TiB of bytes per TiB.</summary>
    public static readonly NumberRange Credits = new(0, 1e18);

    public static readonly NumberRange Iops = new(0, 10_000_000, ZeroMeans: "no limit");

    public static readonly SizeRange Bandwidth = new(1, 1L << 40, Unit: "bytes per second");

    /// <summary>A memory export's page directory is one array: 64 TiB keeps it at 8 MB.</summary>
    public static readonly SizeRange MemoryExportSize = new(4096, 64L << 40, Multiple: 4096);

    /// <summary>Checks a volume size: a positive multiple of 4096 (the file system says how large a file may be).</summary>
    public static string? VolumeSizeProblem(string name, string? text) =>
        ByteSize.TryParse(text, out var bytes) && bytes > 0 && bytes % 4096 == 0
            ? null
            : $"{name} {Given(text)}: give a positive multiple of 4096 bytes, or with K, M, G or T, e.g. 1G.";

    /// <summary>
    /// A value as a message shows it. The configuration binder gives null for a key whose value is an
    /// object, an array or null where text belongs ("defaultSize": {}), so that is what null stands for.
    /// </summary>
    public static string Given(string? text) => string.IsNullOrEmpty(text) ? "(no value: empty, an object, an array or null)" : text;

    /// <summary>Parses ADDR:PORT; null and a message that names the setting when it is not one.</summary>
    public static IPEndPoint? Endpoint(string name, string text, out string? problem)
    {
        if (IPEndPoint.TryParse(text, out var endpoint) && (endpoint.Port != 0 || text.EndsWith(":0", StringComparison.Ordinal)))
        {
            problem = null;
            return endpoint;
        }

        problem = $"{name} {Given(text)}: give ADDR:PORT with a port from 0 to 65535, e.g. 127.0.0.1:10809 or [::1]:10809.";
        return null;
    }

    /// <summary>
    /// The refusal of a configuration value the binder could not even convert (an int past 2^31, "maybe" for
    /// a flag), in the same words as a value out of range: the key as written in the file, the value, what to give.
    /// </summary>
    public static string Unconvertible(string path, string value, string type)
    {
        var parts = path.Split(':');
        var own = parts.Length > 2 && parts[0].Equals("Exports", StringComparison.OrdinalIgnoreCase) ? parts[2..] : parts;
        var range = string.Join(':', own).ToUpperInvariant() switch
        {
            "LIMITS:MAXCONNECTIONS" or "LIMITS:MAXCONNECTIONSPERADDRESS" or "LIMITS:MAXHANDSHAKESPERADDRESS" or "LIMITS:CONNECTIONBURSTPERADDRESS" => Connections,
            "LIMITS:CONNECTIONSPERSECONDPERADDRESS" => ConnectionsPerSecond,
            "LIMITS:RECLAIMIDLEAFTERSECONDS" => IdleTimeoutSeconds,
            "AUDIT:AGGREGATIONWINDOWSECONDS" => AggregationWindowSeconds,
            "LIMITS:MAXINFLIGHTREQUESTS" => InFlightRequests,
            "LIMITS:IDLETIMEOUTSECONDS" => IdleTimeoutSeconds,
            "LIMITS:HANDSHAKETIMEOUTSECONDS" => HandshakeTimeoutSeconds,
            "LIMITS:INLINESPINMICROSECONDS" => InlineSpinMicroseconds,
            "SIMULATION:LATENCYMS" or "SIMULATION:JITTERMS" => DelayMilliseconds,
            "SIMULATION:FAILREADS" or "SIMULATION:FAILWRITES" => Probability,
            "SIMULATION:IOPS" => Iops,
            _ => null,
        };
        var expected = range?.Describe() ?? type switch
        {
            "System.Boolean" => "true or false",
            "System.Int32" or "System.Int64" => "a whole number",
            "System.Double" => "a number",
            _ => $"a value of type {type}",
        };
        return $"{DisplayName(path)} {value}: give {expected}.";
    }

    /// <summary>A configuration key path as people write it in the file: limits.maxConnections, exports.db.readOnly.</summary>
    public static string DisplayName(string path)
    {
        var parts = path.Split(':');
        for (var i = 0; i < parts.Length; i++)
        {
            var exportName = i == 1 && parts[0].Equals("Exports", StringComparison.OrdinalIgnoreCase);
            if (!exportName && parts[i].Length > 0)
            {
                parts[i] = char.ToLowerInvariant(parts[i][0]) + parts[i][1..];
            }
        }

        return string.Join('.', parts);
    }
}

/// <summary>A closed range of numbers; NaN and the infinities are never in it.</summary>
internal sealed record NumberRange(double Min, double Max, string? Unit = null, string? ZeroMeans = null)
{
    public bool Contains(double value) => double.IsFinite(value) && value >= Min && value <= Max;

    /// <summary>"0 (never) to 2592000 seconds".</summary>
    public string Describe() =>
        $"{Format(Min)}{(Min == 0 && ZeroMeans is not null ? $" ({ZeroMeans})" : "")} to {Format(Max)}{(Unit is null ? "" : " " + Unit)}";

    /// <summary>Null when <paramref name="value"/> is in range, else the message naming the setting and the value.</summary>
    public string? Problem(string name, double value) => Contains(value) ? null : Refusal(name, Format(value));

    /// <summary>The refusal, with the value as it was given.</summary>
    public string Refusal(string name, string given) => $"{name} {given}: give {Describe()}.";

    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>A closed range of byte counts written as sizes (4096, 64K, 1G), optionally a multiple of a unit.</summary>
internal sealed record SizeRange(long Min, long Max, long Multiple = 1, string Unit = "")
{
    public bool TryParse(string? text, out long bytes) =>
        ByteSize.TryParse(text, out bytes) && bytes >= Min && bytes <= Max && bytes % Multiple == 0;

    /// <summary>"4K to 64T (a multiple of 4K)".</summary>
    public string Describe() =>
        $"{Format(Min)} to {Format(Max)}{(Unit.Length > 0 ? " " + Unit : "")}{(Multiple > 1 ? $" (a multiple of {Format(Multiple)})" : "")}";

    /// <summary>Null when <paramref name="text"/> is a size in range, else the message naming the setting and the value.</summary>
    public string? Problem(string name, string? text) => TryParse(text, out _) ? null : $"{name} {SettingRanges.Given(text)}: give {Describe()}, e.g. {Format(Math.Max(Min, Math.Min(Max, 64L << 20)))}.";

    /// <summary>1048576 -> "1M": the largest unit that divides it.</summary>
    public static string Format(long bytes)
    {
        foreach (var (shift, suffix) in new[] { (40, "T"), (30, "G"), (20, "M"), (10, "K") })
        {
            if (bytes >= 1L << shift && bytes % (1L << shift) == 0)
            {
                return $"{bytes >> shift}{suffix}";
            }
        }

        return bytes.ToString(CultureInfo.InvariantCulture);
    }
}
