using BlockSim.KeyStore.Audit;

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

    /// <summary>Under the lock: appends <paramref name="records"/>, then saves <paramref name="body"/> when <paramref name="save"/>.</summary>
    private void RecordThenCommit(StoreBody body, IReadOnlyList<AuditRecord> records, bool save, KeyStoreException? refusal = null)
    {
        try
        {
            foreach (var record in records)
            {
                _audit.Append(record);
            }
        }
        catch (Exception e)
        {
            var last = records[^1];
            var refused = refusal is null ? "" : $" (it was refused anyway: {refusal.ErrorCode}: {refusal.Message})";
            throw new KeyStoreException("AuditWriteFailed", $"The audit record for {last.EventName} could not be written, so the request was refused and nothing changed{refused}: {e.Message}", e);
        }

        if (!save)
        {
            return;
        }

        try
        {
            Save(body);
        }
        catch (BackupWriteFailedException e)
        {
            throw new KeyStoreException("StoreWriteFailed", $"{records[^1].EventName} was made and recorded ({PrimaryName} holds it), but the backup copy {BackupName} could not be written; fix the cause, the next change rewrites it: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var record in records.Where(r => r.ErrorCode is null))
            {
                TryRecordNotCommitted(record, e.Message);
            }

            throw new KeyStoreException("StoreWriteFailed", $"The key store could not be written, so {records[^1].EventName} was not made (the audit log says so): {e.Message}", e);
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
                ErrorCode = "StoreWriteFailed",
                ErrorMessage = $"The change recorded in record {recorded.Sequence} was not committed: the store could not be written ({reason}).",
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KeyStoreException)
        {
            // Nothing more can be done: the request fails either way, and the store does not hold the change.
        }
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
                Type = context.Principal == StorePrincipal ? "Service" : context.InvokedBy is null ? "Principal" : "ServiceActingForPrincipal",
                Principal = context.Principal,
                ClientIdentity = context.ClientIdentity,
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
        };
    }

    /// <summary>The records of the scheduled destructions a request carried out (AWS names the event DeleteKey).</summary>
    private List<AuditRecord> DestructionRecords(IEnumerable<string> keyIds) =>
        keyIds.Select(id => NewRecord("DeleteKey", new KeyRequestContext(StorePrincipal), id, null, null, null, null)).ToList();
}
