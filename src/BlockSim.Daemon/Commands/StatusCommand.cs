using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using BlockSim.Storage;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim status</c>: what a running daemon is doing, from its admin socket (GET /v1/status): its build,
/// uptime and XTS tier, its listeners, the key store, each export with its clients, and the open connections.
/// Exit 3 when no daemon answers there.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var command = new Command("status", "Show a running daemon's exports, clients, listeners, XTS tier and key store (through its admin socket: --control, or DATA-DIR/admin.sock).");
        command.SetAction(r => SimCommands.Run(r, daemon => SimCommands.Print(r, daemon.Send<JsonElement>(HttpMethod.Get, "v1/status"), Describe), "status reports on a running daemon (blocksim serve)"));
        return command;
    }

    private static string Describe(JsonElement s)
    {
        var started = s.GetProperty("started").GetDateTimeOffset();
        var lines = new List<string>
        {
            $"blocksim {s.GetProperty("version").GetString()}, pid {s.GetProperty("pid").GetInt32()}, up {Uptime(s.GetProperty("uptimeSeconds").GetDouble())} (since {started.UtcDateTime.ToString("u", CultureInfo.InvariantCulture)}), XTS tier {s.GetProperty("xtsTier").GetString()}",
            $"key store: {s.GetProperty("keyStore").GetString()}",
            $"listening: {string.Join(", ", s.GetProperty("listeners").EnumerateArray().Select(l => $"{l.GetProperty("address").GetString()} (TLS {l.GetProperty("tls").GetString()})"))}",
            "",
        };
        var exports = s.GetProperty("exports").EnumerateArray().Aggregate(new TextTable("EXPORT", "SIZE>", "MODE", "CLIENTS>", "DESCRIPTION"), (t, e) => t.Add(
            e.GetProperty("name").GetString()! + (e.GetProperty("isDefault").GetBoolean() ? " (default)" : ""),
            ByteSize.Format(e.GetProperty("size").GetInt64()),
            e.GetProperty("readOnly").GetBoolean() ? "read-only" : "read-write",
            e.GetProperty("clients").GetInt32().ToString(CultureInfo.InvariantCulture),
            e.TryGetProperty("description", out var d) ? d.GetString() ?? "" : ""));
        lines.Add(exports.ToString());
        var connections = s.GetProperty("connections").EnumerateArray().ToList();
        lines.Add("");
        lines.Add(connections.Count == 0
            ? "No client is connected."
            : connections.Aggregate(new TextTable("CONNECTION>", "CLIENT", "ADDRESS", "TLS", "EXPORT"), (t, c) => t.Add(
                c.GetProperty("id").GetInt64().ToString(CultureInfo.InvariantCulture),
                c.GetProperty("client").GetString()!,
                c.GetProperty("address").GetString()!,
                c.GetProperty("tls").GetBoolean() ? "yes" : "no",
                c.TryGetProperty("export", out var x) ? x.GetString() ?? "-" : "(haggling)")).ToString());
        return string.Join(Environment.NewLine, lines);
    }

    private static string Uptime(double seconds)
    {
        var time = TimeSpan.FromSeconds(seconds);
        return time.TotalDays >= 1 ? $"{(int)time.TotalDays}d {time.Hours}h"
            : time.TotalHours >= 1 ? $"{(int)time.TotalHours}h {time.Minutes:00}m"
            : time.TotalMinutes >= 1 ? $"{time.Minutes}m {time.Seconds:00}s"
            : string.Create(CultureInfo.InvariantCulture, $"{time.TotalSeconds:0}s");
    }
}
