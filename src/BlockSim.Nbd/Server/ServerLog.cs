using System.Net;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Server;

/// <summary>The server's log lines, with stable event ids (1xxx: listeners and connections, 2xxx: protocol).</summary>
internal static partial class ServerLog
{
    [LoggerMessage(1000, LogLevel.Information, "Listening for NBD on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);

    [LoggerMessage(1001, LogLevel.Debug, "Connection {ConnectionId} from {Remote}")]
    public static partial void Accepted(ILogger logger, long connectionId, string remote);

    [LoggerMessage(1002, LogLevel.Debug, "Connection {ConnectionId} ({Client}) closed")]
    public static partial void Closed(ILogger logger, long connectionId, string client);

    [LoggerMessage(1016, LogLevel.Information, "Connection {ConnectionId} ({Client}) detached from export '{Export}' after {Seconds} s")]
    public static partial void Detached(ILogger logger, long connectionId, string client, string export, double seconds);

    [LoggerMessage(1003, LogLevel.Warning, "Refusing a connection from {Remote}: {Count} connections already open (limit)")]
    public static partial void TooManyConnections(ILogger logger, string remote, int count);

    [LoggerMessage(1004, LogLevel.Information, "Connection {ConnectionId} ({Client}) attached export '{Export}' ({Size} bytes, structured replies: {Structured})")]
    public static partial void Attached(ILogger logger, long connectionId, string client, string export, long size, bool structured);

    [LoggerMessage(1005, LogLevel.Warning, "Connection {ConnectionId} failed")]
    public static partial void ConnectionFailed(ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(1006, LogLevel.Information, "NBD server stopping: {Count} connections open")]
    public static partial void Stopping(ILogger logger, int count);

    [LoggerMessage(1007, LogLevel.Information, "Connection {ConnectionId} closed after {Seconds} s idle")]
    public static partial void IdleClosed(ILogger logger, long connectionId, double seconds);

    [LoggerMessage(1008, LogLevel.Warning, "Refusing a connection from {Remote}: that address already holds {Count} connections (limit)")]
    public static partial void TooManyFromAddress(ILogger logger, string remote, int count);

    [LoggerMessage(1009, LogLevel.Information, "Connection {ConnectionId}: TLS established ({Protocol}), client {Identity}")]
    public static partial void TlsEstablished(ILogger logger, long connectionId, string protocol, string identity);

    [LoggerMessage(1010, LogLevel.Warning, "Connection {ConnectionId} from {Remote}: TLS handshake failed, closing: {Reason}")]
    public static partial void TlsFailed(ILogger logger, long connectionId, string remote, string reason);

    [LoggerMessage(1011, LogLevel.Warning, "TLS credentials changed on disk but cannot be reloaded: {Problem}")]
    public static partial void TlsReloadFailed(ILogger logger, string problem);

    [LoggerMessage(1012, LogLevel.Warning, "Refusing a connection from {Remote}: that address already has {Count} connections in the handshake (limit)")]
    public static partial void TooManyHandshakes(ILogger logger, string remote, int count);

    [LoggerMessage(1013, LogLevel.Warning, "Refusing a connection from {Remote}: that address connects too fast (limit {Rate}/s, bursts of {Burst})")]
    public static partial void ConnectingTooFast(ILogger logger, string remote, double rate, int burst);

    [LoggerMessage(1014, LogLevel.Warning, "{Count} more connections were refused in the last {Seconds} s without a line each (the lines above give the reasons)")]
    public static partial void RefusalsNotLogged(ILogger logger, long count, long seconds);

    [LoggerMessage(1015, LogLevel.Information, "Closing connection {ConnectionId} from {Address}, idle for {Seconds} s, to make room for a client from {Newcomer} ({Limit} is reached)")]
    public static partial void IdleReclaimed(ILogger logger, long connectionId, string address, long seconds, string newcomer, string limit);

    [LoggerMessage(2000, LogLevel.Warning, "Connection {ConnectionId}: protocol violation, closing: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, long connectionId, string reason);

    [LoggerMessage(2001, LogLevel.Debug, "Connection {ConnectionId}: option {Option} answered {Reply}")]
    public static partial void OptionAnswered(ILogger logger, long connectionId, uint option, string reply);

    [LoggerMessage(2002, LogLevel.Warning, "Connection {ConnectionId}: export '{Export}' failed a {Command}: {Message}")]
    public static partial void RequestFailed(ILogger logger, long connectionId, string export, string command, string message);

    [LoggerMessage(2003, LogLevel.Error, "Connection {ConnectionId}: unexpected error in a {Command} on export '{Export}'")]
    public static partial void RequestCrashed(ILogger logger, long connectionId, string export, string command, Exception exception);

    [LoggerMessage(2004, LogLevel.Warning, "Connection {ConnectionId}: export '{Export}' refused: {Reason}")]
    public static partial void ExportRefused(ILogger logger, long connectionId, string export, string reason);

    [LoggerMessage(2005, LogLevel.Warning, "Export '{Export}': no space left on its storage ({Reason}); writes get ENOSPC until space is freed (logged once, then a count each minute)")]
    public static partial void StorageFull(ILogger logger, string export, string reason);

    [LoggerMessage(2006, LogLevel.Warning, "Export '{Export}': still no space left on its storage: {Count} writes refused with ENOSPC in the last {Seconds} s")]
    public static partial void StorageStillFull(ILogger logger, string export, long count, long seconds);

    [LoggerMessage(2007, LogLevel.Information, "Export '{Export}': writes succeed again, after {Count} writes refused for lack of space over {Seconds} s")]
    public static partial void StorageAvailable(ILogger logger, string export, long count, long seconds);

    [LoggerMessage(2008, LogLevel.Warning, "Export '{Export}': {Count} more failed requests in the last minute were not logged one by one")]
    public static partial void RequestFailuresSuppressed(ILogger logger, string export, long count);

    [LoggerMessage(2009, LogLevel.Warning, "Export '{Export}': {Count} more attaches refused the same way in the last {Seconds} s were not logged one by one")]
    public static partial void RefusalsSuppressed(ILogger logger, string export, long count, long seconds);

    public static string Describe(EndPoint? endpoint) => endpoint?.ToString() switch
    {
        null or "" => "unix socket",
        var s => s,
    };
}
