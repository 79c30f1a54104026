using System.Runtime.CompilerServices;
using BlockSim.Nbd.Exports;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Server;

/// <summary>
/// How failed requests reach the log, per export: in a few lines however many requests fail, never a line
/// (let alone a stack trace) per request. A client keeps writing when its writes fail, so one full disk
/// would otherwise log as fast as the client can send.
/// <list type="bullet">
/// <item>Out of space (ENOSPC, EDQUOT) is an episode: one warning when it starts, a reminder with the count
/// at most once a minute while it lasts, one line when a write succeeds again. An episode that starts
/// again within a minute of the last warning (a disk hovering at full) starts quietly.</item>
/// <item>Other failures: at most one line a minute, with the count of those not logged since.</item>
/// <item>Unexpected exceptions: the stack trace of the first in a minute, then counts.</item>
/// <item>Refused attaches: one line per kind of refusal every 10 s, then counts.</item>
/// </list>
/// </summary>
internal sealed class RequestFailureLog
{
    private static readonly long s_intervalMs = (long)TimeSpan.FromMinutes(1).TotalMilliseconds;
    private static readonly ConditionalWeakTable<INbdExportInfo, RequestFailureLog> s_logs = new();
    private static int s_fullEpisodes;

    private readonly object _gate = new();
    private bool _full;
    private bool _announced;
    private long _episodeStart;
    private long _refused;
    private long _refusedSinceLine;
    private long _fullLineAt = long.MinValue / 2;
    private LineRate _failedLines = LineRate.Start;
    private LineRate _crashLines = LineRate.Start;
    private readonly Dictionary<string, (long LoggedAt, long Suppressed)> _refusals = new(StringComparer.Ordinal);
    private static readonly long s_refusalIntervalMs = (long)TimeSpan.FromSeconds(10).TotalMilliseconds;

    /// <summary>True while any export is out of space: the only thing a successful write looks at.</summary>
    public static bool AnyOutOfSpace => Volatile.Read(ref s_fullEpisodes) != 0;

    public static RequestFailureLog Of(INbdExportInfo export) => s_logs.GetValue(export, static _ => new RequestFailureLog());

    /// <summary>ENOSPC or EDQUOT anywhere in the exception's chain (an IOException's HResult is the errno on Linux).</summary>
    public static bool IsOutOfSpace(Exception exception)
    {
        const int ENOSPC = 28;
        const int EDQUOT = 122;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is IOException { HResult: ENOSPC or EDQUOT })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A write refused for lack of space (its reason names the file: for the log only).</summary>
    public void OutOfSpace(ILogger logger, string export, string reason)
    {
        var now = Environment.TickCount64;
        lock (_gate)
        {
            if (_full)
            {
                _refused++;
                _refusedSinceLine++;
                if (now - _fullLineAt >= s_intervalMs)
                {
                    ServerLog.StorageStillFull(logger, export, _refusedSinceLine, (now - _fullLineAt) / 1000);
                    _fullLineAt = now;
                    _refusedSinceLine = 0;
                }

                return;
            }

            _full = true;
            _episodeStart = now;
            _refused = 1;
            _refusedSinceLine = 1;
            Interlocked.Increment(ref s_fullEpisodes);
            _announced = now - _fullLineAt >= s_intervalMs;
            if (_announced)
            {
                ServerLog.StorageFull(logger, export, reason);
                _fullLineAt = now;
                _refusedSinceLine = 0;
            }
        }
    }

    /// <summary>A write, write-zeroes or trim succeeded: ends an out-of-space episode.</summary>
    public void WriteSucceeded(ILogger logger, string export)
    {
        lock (_gate)
        {
            if (!_full)
            {
                return;
            }

            _full = false;
            Interlocked.Decrement(ref s_fullEpisodes);
            if (_announced)
            {
                ServerLog.StorageAvailable(logger, export, _refused, (Environment.TickCount64 - _episodeStart) / 1000);
            }
        }
    }

    /// <summary>A request that failed with an error the export reported (an I/O error, an unsupported zeroing).</summary>
    public void Failed(ILogger logger, long connectionId, string export, string command, string message)
    {
        long suppressed;
        lock (_gate)
        {
            if (!_failedLines.TryLog(Environment.TickCount64, s_intervalMs, out suppressed))
            {
                return;
            }
        }

        ServerLog.RequestFailed(logger, connectionId, export, command, message);
        if (suppressed > 0)
        {
            ServerLog.RequestFailuresSuppressed(logger, export, suppressed);
        }
    }

    /// <summary>
    /// A client refused the export (access list, key store): one line per kind of refusal (what the client
    /// is told) every <see cref="s_refusalIntervalMs"/>, with the count of the same refusals not logged since.
    /// A client retrying a refused attach in a loop would otherwise log a line per attempt.
    /// </summary>
    public void Refused(ILogger logger, long connectionId, string export, NbdRefusal refusal)
    {
        var now = Environment.TickCount64;
        long suppressed;
        lock (_gate)
        {
            var (loggedAt, count) = _refusals.GetValueOrDefault(refusal.ClientMessage, (long.MinValue / 2, 0));
            if (now - loggedAt < s_refusalIntervalMs)
            {
                _refusals[refusal.ClientMessage] = (loggedAt, count + 1);
                return;
            }

            if (_refusals.Count >= 256)
            {
                _refusals.Clear(); // many kinds at once: forget the old ones rather than grow
            }

            _refusals[refusal.ClientMessage] = (now, 0);
            suppressed = count;
        }

        ServerLog.ExportRefused(logger, connectionId, export, refusal.Detail);
        if (suppressed > 0)
        {
            ServerLog.RefusalsSuppressed(logger, export, suppressed, s_refusalIntervalMs / 1000);
        }
    }

    /// <summary>A request that ended in an unexpected exception: its stack trace at most once a minute.</summary>
    public void Crashed(ILogger logger, long connectionId, string export, string command, Exception exception)
    {
        long suppressed;
        lock (_gate)
        {
            if (!_crashLines.TryLog(Environment.TickCount64, s_intervalMs, out suppressed))
            {
                return;
            }
        }

        ServerLog.RequestCrashed(logger, connectionId, export, command, exception);
        if (suppressed > 0)
        {
            ServerLog.RequestFailuresSuppressed(logger, export, suppressed);
        }
    }

    /// <summary>When a kind of line was last logged, and how many were held back since (the caller holds the lock).</summary>
    private struct LineRate
    {
        private long _loggedAt;
        private long _suppressed;

        public static LineRate Start => new() { _loggedAt = long.MinValue / 2 };

        /// <summary>True (with the count held back since the last line) when a line may be logged now; otherwise counts one more.</summary>
        public bool TryLog(long now, long intervalMs, out long suppressed)
        {
            if (now - _loggedAt < intervalMs)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }

            suppressed = _suppressed;
            _suppressed = 0;
            _loggedAt = now;
            return true;
        }
    }
}
