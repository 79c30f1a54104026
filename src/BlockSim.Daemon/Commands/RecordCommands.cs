using System.CommandLine;
using System.Text.Json;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim record start|stop EXPORT</c>: records a running export's writes, flushes and marks for the
/// crash-state explorer (<c>blocksim crash</c>), through the daemon's admin socket.
/// </summary>
internal static class RecordCommands
{
    public static Command Create()
    {
        var record = new Command("record", "Record a running export's writes, flushes and marks for the crash-state explorer: start, stop.");

        var startExport = new Argument<string>("export") { Description = "The export's name." };
        var log = new Option<string>("--log") { Description = "The log's name (e.g. run1.bslog), kept with the image it starts from in the recordings folder beside the admin socket.", Required = true };
        var start = new Command("start", "Pause the export, flush it, keep its contents as the base image, start logging, resume.") { startExport, log };
        start.SetAction(r => SimCommands.Run(r, daemon => SimCommands.Print(
            r,
            daemon.Send<JsonElement>(HttpMethod.Post, SimCommands.Path(r, startExport, "record"), new { log = r.GetValue(log) }, timeout: Timeout.InfiniteTimeSpan),
            a => $"recording to {a.GetProperty("log").GetString()}, from the base {a.GetProperty("base").GetString()} (from request {a.GetProperty("fromSequence")})")));

        var stopExport = new Argument<string>("export") { Description = "The export's name." };
        var stop = new Command("stop", "Stop recording: the log is closed and made durable.") { stopExport };
        stop.SetAction(r => SimCommands.Run(r, daemon => SimCommands.Print(
            r,
            daemon.Send<JsonElement>(HttpMethod.Delete, SimCommands.Path(r, stopExport, "record"), timeout: Timeout.InfiniteTimeSpan),
            a => $"recording stopped: {a.GetProperty("records")} records (at request {a.GetProperty("fromSequence")})")));

        record.Subcommands.Add(start);
        record.Subcommands.Add(stop);
        return record;
    }
}
