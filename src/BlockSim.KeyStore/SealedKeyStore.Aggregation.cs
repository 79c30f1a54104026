using System.Text.Json;
using BlockSim.KeyStore.Audit;
using BlockSim.KeyStore.Media;

namespace BlockSim.KeyStore;

/// <summary>
/// Repeated identical Decrypts (a client attaching in a loop) recorded once per window instead of once each.
/// <para>
/// The first of a kind is recorded as always, before its key is released, and opens a window of
/// <see cref="AuditOptions.AggregationWindow"/>. An identical request inside the window is still decided
/// in full (key state, policy, grants, the encryption context); only its record is not written on its own:
/// it is counted. When the window ends (a timer, the next request, or closing the store), one summary record
/// says how many repeats there were and when the first and the last came. It is shaped like the first
/// record, with <c>additionalEventData</c> repeatCount, firstRepeatTime, lastRepeatTime and firstRequestId.
/// Any other kind of record (a change to a key or a policy) ends every window first, so a summary never
/// spans a change and the log keeps its order.
/// </para>
/// <para>
/// What this gives up, and says: a repeat's key is released on the strength of the first record, and a crash
/// loses the count of the window under way (at most one window of repeats of requests already recorded).
/// A summary whose write fails is kept and written with the next record, with the same eventId; should
/// the disk fill in the middle of several records, one summary may reach the log twice, with one eventId.
/// </para>
/// </summary>
public sealed partial class SealedKeyStore
{
    private static readonly HashSet<string> s_aggregated = new(StringComparer.Ordinal) { "Decrypt" };
    private readonly Dictionary<string, Aggregate> _aggregates = new(StringComparer.Ordinal);
    private readonly List<AuditRecord> _pendingSummaries = [];
    private AuditOptions _auditOptions = new();
    private ITimer? _aggregateTimer;
    private bool _disposed;

    private sealed class Aggregate(AuditRecord first, DateTimeOffset windowEnds)
    {
        public AuditRecord First { get; } = first;

        public DateTimeOffset WindowEnds { get; } = windowEnds;

        public long Repeats { get; set; }

        public DateTimeOffset FirstRepeat { get; set; }

        public DateTimeOffset LastRepeat { get; set; }
    }

    /// <summary>Sets how the audit log aggregates and rotates (see <see cref="AuditOptions"/>); the daemon calls it once after opening.</summary>
    public void ConfigureAudit(AuditOptions options)
    {
        if (options.AggregationWindow < TimeSpan.Zero || options.SegmentBytes < 0 || options.MaxAggregates < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "The aggregation window, segment size and aggregate count cannot be negative.");
        }

        using (Lock())
        {
            _auditOptions = options;
            if (_medium.Audit is FileAuditStorage files)
            {
                files.SegmentBytes = options.SegmentBytes; // a log in etcd is one key per record: nothing to close
            }
        }

        _aggregateTimer?.Dispose();
        _aggregateTimer = null;
        if (options.AggregationWindow > TimeSpan.Zero)
        {
            var period = TimeSpan.FromTicks(Math.Clamp(options.AggregationWindow.Ticks / 4, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
            _aggregateTimer = _time.CreateTimer(static state => ((SealedKeyStore)state!).TryFlushAuditAggregates(), this, period, period);
        }
    }

    /// <summary>The audit log's segments, oldest first: files, or an etcd prefix.</summary>
    public IReadOnlyList<string> AuditLogFiles => _audit.Files();

    /// <summary>The last <paramref name="count"/> lines of the audit log, as written (for <c>audit show</c>); back through the segments only as far as needed.</summary>
    public IReadOnlyList<string> AuditTail(int count)
    {
        var storage = _audit.Storage;
        var segments = storage.Segments();
        var lines = new List<string>();
        for (var i = segments.Count - 1; i >= 0 && lines.Count < count; i--)
        {
            lines.InsertRange(0, storage.ReadLines(segments[i]).Where(l => l.Length > 0).TakeLast(count - lines.Count));
        }

        return lines;
    }

    /// <summary>Writes the summaries of windows that have ended (all of them with <paramref name="all"/>); the timer and tests call it.</summary>
    internal void FlushAuditAggregates(bool all = false)
    {
        using (Lock())
        {
            if (_disposed)
            {
                return;
            }

            var summaries = TakeSummaries(all);
            if (summaries.Count == 0)
            {
                return;
            }

            try
            {
                RecordThenCommit(Load(), summaries);
            }
            catch (KeyStoreException e) when (e.ErrorCode == KeyStoreErrors.StoreWriteFailed)
            {
                _pendingSummaries.Clear(); // in the log: only the store write after them failed
                throw;
            }

            _pendingSummaries.Clear();
        }
    }

    private void TryFlushAuditAggregates()
    {
        if (_aggregates.Count == 0 && _pendingSummaries.Count == 0)
        {
            return; // read without the lock: a window opened meanwhile is seen at the next tick
        }

        try
        {
            FlushAuditAggregates();
        }
        catch (Exception e) when (e is KeyStoreException or IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // Kept for the next attempt (the next tick or the next request); the request path reports failures.
        }
    }

    /// <summary>Under the lock: true when <paramref name="record"/> repeats one recorded inside its window (it is then counted, not written).</summary>
    private bool CountAsRepeat(AuditRecord record)
    {
        if (_auditOptions.AggregationWindow <= TimeSpan.Zero || !s_aggregated.Contains(record.EventName)
            || !_aggregates.TryGetValue(AggregateKey(record), out var aggregate) || record.EventTime >= aggregate.WindowEnds)
        {
            return false;
        }

        if (aggregate.Repeats++ == 0)
        {
            aggregate.FirstRepeat = record.EventTime;
        }

        aggregate.LastRepeat = record.EventTime;
        return true;
    }

    /// <summary>
    /// Under the lock, before <paramref name="records"/> are written: the summaries that must go first. A
    /// record that is not itself aggregated ends every window; otherwise only the windows that have ended.
    /// </summary>
    private List<AuditRecord> WithSummaries(List<AuditRecord> records)
    {
        var all = records.Any(r => !s_aggregated.Contains(r.EventName));
        var summaries = TakeSummaries(all);
        if (summaries.Count == 0)
        {
            return records;
        }

        summaries.AddRange(records);
        return summaries;
    }

    /// <summary>Under the lock, once records are in the log: the summaries went with them, and an aggregated record opens its window.</summary>
    private void Recorded(IEnumerable<AuditRecord> records)
    {
        _pendingSummaries.Clear();
        foreach (var record in records)
        {
            if (_auditOptions.AggregationWindow > TimeSpan.Zero && s_aggregated.Contains(record.EventName)
                && record.AdditionalEventData?.ContainsKey("repeatCount") != true && _aggregates.Count < _auditOptions.MaxAggregates)
            {
                _aggregates[AggregateKey(record)] = new Aggregate(record, record.EventTime + _auditOptions.AggregationWindow);
            }
        }
    }

    /// <summary>Ends windows (every one, or those past their end) and returns the summaries still to write, earlier unwritten ones first.</summary>
    private List<AuditRecord> TakeSummaries(bool all)
    {
        var now = _time.GetUtcNow();
        foreach (var (key, aggregate) in _aggregates.Where(a => all || now >= a.Value.WindowEnds).ToArray())
        {
            _aggregates.Remove(key);
            if (aggregate.Repeats > 0)
            {
                _pendingSummaries.Add(Summary(aggregate));
            }
        }

        return [.. _pendingSummaries];
    }

    private static AuditRecord Summary(Aggregate aggregate)
    {
        var first = aggregate.First;
        var data = first.AdditionalEventData is null ? new Dictionary<string, string>() : new Dictionary<string, string>(first.AdditionalEventData);
        data["repeatCount"] = aggregate.Repeats.ToString(System.Globalization.CultureInfo.InvariantCulture);
        data["firstRepeatTime"] = aggregate.FirstRepeat.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        data["lastRepeatTime"] = aggregate.LastRepeat.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        data["firstRequestId"] = first.RequestId;
        return new AuditRecord
        {
            EventTime = aggregate.LastRepeat,
            EventName = first.EventName,
            UserIdentity = first.UserIdentity,
            InvokedBy = first.InvokedBy,
            SourceAddress = first.SourceAddress,
            RequestParameters = first.RequestParameters,
            AdditionalEventData = data,
            RequestId = Guid.NewGuid().ToString(),
            EventId = Guid.NewGuid().ToString(),
            ErrorCode = first.ErrorCode,
            ErrorMessage = first.ErrorMessage,
            RecordedBy = first.RecordedBy,
        };
    }

    /// <summary>What makes two records the same request: everything but times and ids.</summary>
    private static string AggregateKey(AuditRecord record) => JsonSerializer.Serialize(new object?[]
    {
        record.EventName,
        record.UserIdentity.Type,
        record.UserIdentity.Principal,
        record.UserIdentity.ClientIdentity,
        record.UserIdentity.AuthenticatedBy,
        record.UserIdentity.ImpersonatedBy,
        record.InvokedBy,
        record.SourceAddress,
        record.RequestParameters.KeyId,
        record.RequestParameters.GrantId,
        record.RequestParameters.EncryptionContext?.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new[] { p.Key, p.Value }),
        record.AdditionalEventData?.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new[] { p.Key, p.Value }),
        record.ErrorCode,
        record.ErrorMessage,
    });

    /// <summary>On dispose: stops the timer and writes what is counted (best effort: a failure leaves only the counts unwritten).</summary>
    private void CloseAggregation()
    {
        if (_aggregateTimer is null)
        {
            return; // never configured: nothing counted, no timer callback that could still be writing
        }

        _aggregateTimer.Dispose();
        try
        {
            using (Lock())
            {
                if (_aggregates.Count > 0 || _pendingSummaries.Count > 0)
                {
                    var summaries = TakeSummaries(all: true);
                    if (summaries.Count > 0)
                    {
                        RecordThenCommit(Load(), summaries);
                    }
                }

                _disposed = true;
            }
        }
        catch (Exception e) when (e is KeyStoreException or IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            _disposed = true;
        }
    }
}
