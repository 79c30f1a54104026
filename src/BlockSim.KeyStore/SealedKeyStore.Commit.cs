using BlockSim.KeyStore.Audit;
using BlockSim.KeyStore.Media;

namespace BlockSim.KeyStore;

/// <summary>
/// How a request's audit record and its change reach the disk: record first, then commit.
/// <para>
/// The record (and the records of keys whose deletion came due) is appended and flushed first; only then is
/// the store written. If the record cannot be written nothing is saved and the request fails
/// (AuditWriteFailed), so there is never a change in the store that is not in the log. The opposite gap is
/// possible and is said so: when the store write fails after the record (the primary copy: once it is
/// written the change is committed, whatever happens to the backup), a follow-up record with the same
/// requestId and errorCode StoreWriteFailed says the change was not made. A crash between the two writes
/// leaves a record with no follow-up; that is why every record of a change is read as an intent that
/// the store may not have committed (the store itself says what was committed).
/// </para>
/// </summary>
public sealed partial class SealedKeyStore
{
    /// <summary>The principal of the records the store writes for itself (scheduled destruction).</summary>
    public const string StorePrincipal = "blocksim-keystore";

    /// <summary>
    /// Under the lock: appends <paramref name="records"/>, then saves <paramref name="body"/> with the log's new
    /// head as its audit anchor. Every request saves, read-only ones too, so that the anchor covers every
    /// record (a Decrypt writes nothing else, and its record would otherwise escape rollback detection).
    /// Records the log holds past the body's anchor belong to requests that never reached this save (a crash):
    /// a NotCommitted record says so before this request's own.
    /// </summary>
    /// <para>With <paramref name="rekey"/> (the request destroyed keys), the store write is the re-key's commit (<see cref="SaveReKeyed"/>).</para>
    private void RecordThenCommit(StoreBody body, IReadOnlyList<AuditRecord> records, KeyStoreException? refusal = null, ReKeyPlan? rekey = null)
    {
        try
        {
            if (body.AuditAnchor is { } anchor)
            {
                var head = _audit.Head();
                if (head.Sequence < anchor.Sequence || (head.Sequence == anchor.Sequence && head.Hash != anchor.Hash))
                {
                    // Appending now would move the anchor onto a log that lost records: refuse, as for a damaged head.
                    throw new KeyStoreException(
                        KeyStoreErrors.AuditLogDamaged,
                        $"The audit log ends at record {head.Sequence} but the store's anchor says record {anchor.Sequence}: it was rolled back, truncated or replaced. Run 'blocksim audit verify' and put back the log that holds record {anchor.Sequence}.");
                }

                if (head.Sequence > anchor.Sequence)
                {
                    records = [NotCommittedRecord(anchor.Sequence + 1, head.Sequence), .. records];
                }
            }

            foreach (var record in records)
            {
                var (sequence, hash) = _audit.Append(record);
                body.AuditAnchor = new AuditAnchor { Sequence = sequence, Hash = hash };
            }
        }
        catch (Exception e)
        {
            var last = records[^1];
            var refused = refusal is null ? "" : $" (it was refused anyway: {refusal.ErrorCode}: {refusal.Message})";
            throw new KeyStoreException(KeyStoreErrors.AuditWriteFailed, $"The audit record for {last.EventName} could not be written, so the request was refused and nothing changed{refused}: {e.Message}", e);
        }

        try
        {
            if (rekey is null)
            {
                Save(body);
            }
            else
            {
                SaveReKeyed(body, rekey);
            }
        }
        catch (KeyStoreConflictException)
        {
            throw; // nothing written, records included: the request runs again on what is there now
        }
        catch (StoreCopyWriteFailedException e)
        {
            throw new KeyStoreException(KeyStoreErrors.StoreWriteFailed, $"{records[^1].EventName} was made and recorded ({e.CommittedCopy} holds it), but the backup copy {e.FailedCopy} could not be written; fix the cause, the next change rewrites it: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var record in records.Where(r => r.ErrorCode is null))
            {
                TryRecordNotCommitted(record, e.Message);
            }

            throw new KeyStoreException(KeyStoreErrors.StoreWriteFailed, $"The key store could not be written, so {records[^1].EventName} was not made and nothing was released (the audit log says so): {e.Message}", e);
        }
    }

    /// <summary>
    /// Best effort: a follow-up record saying that the change recorded in <paramref name="recorded"/> was not
    /// committed. If even that cannot be written, the store (which never got the change) is the truth.
    /// </summary>
    private void TryRecordNotCommitted(AuditRecord recorded, string reason)
    {
        try
        {
            _audit.Append(new AuditRecord
            {
                EventTime = _time.GetUtcNow(),
                EventName = recorded.EventName,
                UserIdentity = recorded.UserIdentity,
                InvokedBy = recorded.InvokedBy,
                SourceAddress = recorded.SourceAddress,
                RequestParameters = recorded.RequestParameters,
                RequestId = recorded.RequestId,
                EventId = Guid.NewGuid().ToString(),
                ErrorCode = KeyStoreErrors.StoreWriteFailed,
                RecordedBy = s_recordedBy,
                ErrorMessage = $"The request recorded in record {recorded.Sequence} was not committed (no change made, nothing released): the store could not be written ({reason}).",
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KeyStoreException)
        {
            // Nothing more can be done: the request fails either way, and the store does not hold the change.
        }
    }

    /// <summary>The store's own record that records <paramref name="first"/>..<paramref name="last"/> were never followed by their store write.</summary>
    private AuditRecord NotCommittedRecord(long first, long last)
    {
        var record = NewRecord(
            "RecordsNotCommitted",
            new KeyRequestContext(StorePrincipal),
            null,
            null,
            null,
            "NotCommitted",
            $"{AuditVerification.Range(first, last)} were written but the store write after them never happened (the process stopped, or the write failed): nothing they record was committed or released.");
        record.AdditionalEventData = new Dictionary<string, string> { ["records"] = $"{first}..{last}" };
        return record;
    }

    /// <summary>A record for one request, allowed (no error) or refused. Metrics count it here.</summary>
    private AuditRecord NewRecord(string eventName, KeyRequestContext context, string? keyId, IReadOnlyDictionary<string, string>? encryptionContext, int? keyVersion, string? errorCode, string? errorMessage)
    {
        KeyStoreMetrics.Request(eventName, errorCode);
        return new AuditRecord
        {
            EventTime = _time.GetUtcNow(),
            EventName = eventName,
            UserIdentity = new AuditIdentity
            {
                Type = context.Principal == StorePrincipal ? "Service"
                    : context.ImpersonatedBy is not null ? "Impersonation"
                    : context.InvokedBy is null ? "Principal" : "ServiceActingForPrincipal",
                Principal = context.Principal,
                ClientIdentity = context.ClientIdentity,
                AuthenticatedBy = context.AuthenticatedBy,
                ImpersonatedBy = context.ImpersonatedBy,
            },
            InvokedBy = context.InvokedBy,
            SourceAddress = context.SourceAddress,
            RequestParameters = new AuditRequestParameters
            {
                KeyId = keyId,
                EncryptionContext = encryptionContext is null ? null : new Dictionary<string, string>(encryptionContext),
            },
            AdditionalEventData = keyVersion is { } v ? new Dictionary<string, string> { ["keyMaterialVersion"] = v.ToString(System.Globalization.CultureInfo.InvariantCulture) } : null,
            RequestId = Guid.NewGuid().ToString(),
            EventId = Guid.NewGuid().ToString(),
            ErrorCode = errorCode,
            ErrorMessage = errorMessage,
            RecordedBy = s_recordedBy,
        };
    }

    /// <summary>This process, as its records name it: the host, the program and its process id.</summary>
    private static readonly string s_recordedBy =
        $"{Environment.MachineName}/{Path.GetFileNameWithoutExtension(Environment.ProcessPath) ?? "unknown"}[{Environment.ProcessId}]";

    /// <summary>The records of the scheduled destructions a request carried out (AWS names the event DeleteKey).</summary>
    private List<AuditRecord> DestructionRecords(IEnumerable<string> keyIds, ReKeyPlan? rekey)
    {
        var records = keyIds.Select(id => NewRecord("DeleteKey", new KeyRequestContext(StorePrincipal), id, null, null, null, null)).ToList();
        if (rekey is not null)
        {
            RecordReKey(records, rekey);
        }

        return records;
    }
}
