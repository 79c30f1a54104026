using System.Diagnostics;
using System.Diagnostics.Metrics;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server;

/// <summary>
/// The server's instruments (meter <see cref="MeterName"/>): requests, payload bytes, latency and errors per
/// export and command, and connections. Recording costs a flag check while nobody listens; with a listener
/// it allocates nothing (the tag values are cached strings).
/// </summary>
public static class NbdMetrics
{
    public const string MeterName = "BlockSim.Nbd";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_requests = s_meter.CreateCounter<long>("blocksim.nbd.requests", "{request}", "NBD requests answered, by export and command.");
    private static readonly Counter<long> s_errors = s_meter.CreateCounter<long>("blocksim.nbd.errors", "{request}", "NBD requests answered with an error, by export, command and error.");
    private static readonly Counter<long> s_bytes = s_meter.CreateCounter<long>("blocksim.nbd.bytes", "By", "Payload bytes read and written, by export and direction.");
    private static readonly Histogram<double> s_duration = s_meter.CreateHistogram<double>("blocksim.nbd.request.duration", "s", "Time from a request's arrival to its reply, by export and command.");
    private static readonly UpDownCounter<long> s_connections = s_meter.CreateUpDownCounter<long>("blocksim.nbd.connections", "{connection}", "Open NBD connections.");
    private static readonly Counter<long> s_refused = s_meter.CreateCounter<long>("blocksim.nbd.connections.refused", "{connection}", "Connections closed at once because the connection limit was reached.");

    internal static void RequestAnswered(string export, NbdCommand command, NbdError error, uint length, long startedAt)
    {
        if (!s_requests.Enabled && !s_duration.Enabled)
        {
            return;
        }

        var exportTag = new KeyValuePair<string, object?>("export", export);
        var commandTag = new KeyValuePair<string, object?>("command", CommandName(command));
        s_requests.Add(1, exportTag, commandTag);
        s_duration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, exportTag, commandTag);
        if (error != NbdError.None)
        {
            s_errors.Add(1, exportTag, commandTag, new KeyValuePair<string, object?>("error", ErrorName(error)));
        }
        else if (command is NbdCommand.Read or NbdCommand.Write)
        {
            s_bytes.Add(length, exportTag, new KeyValuePair<string, object?>("direction", command == NbdCommand.Read ? "read" : "write"));
        }
    }

    internal static void ConnectionOpened() => s_connections.Add(1);

    internal static void ConnectionClosed() => s_connections.Add(-1);

    internal static void ConnectionRefused() => s_refused.Add(1);

    private static string CommandName(NbdCommand command) => command switch
    {
        NbdCommand.Read => "read",
        NbdCommand.Write => "write",
        NbdCommand.Flush => "flush",
        NbdCommand.Trim => "trim",
        NbdCommand.Cache => "cache",
        NbdCommand.WriteZeroes => "write_zeroes",
        NbdCommand.BlockStatus => "block_status",
        _ => "other",
    };

    private static string ErrorName(NbdError error) => NbdErrorNames.Of(error);
}
