using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Policies;

namespace BlockSim.KeyStore;

/// <summary>What every request goes through: finding the key, authorization, state checks, the audit record.</summary>
public sealed partial class SealedKeyStore
{
    private static MasterKey Find(StoreBody body, string keyIdOrAlias) =>
        body.Keys.FirstOrDefault(k => k.KeyId == keyIdOrAlias || k.Aliases.Contains(keyIdOrAlias))
        ?? throw new KeyStoreException(KeyStoreErrors.NotFound, $"There is no key '{keyIdOrAlias}' in the store.");

    private bool IsAllowed(StoreBody body, MasterKey key, string action, KeyRequestContext context, IReadOnlyDictionary<string, string>? encryptionContext)
    {
        var decision = StoredPolicy(key).Evaluate(
            new PolicyRequest(context.Principal, action, context.InvokedBy, context.SourceAddress, encryptionContext, context.ClientIdentity));
        if (decision != PolicyDecision.NotApplicable)
        {
            return decision == PolicyDecision.Allow;
        }

        return body.Grants.Any(g =>
            g.KeyId == key.KeyId
            && (g.Grantee == context.Principal || g.Grantee == context.InvokedBy)
            && g.Operations.Contains(action)
            && (g.Clients.Count == 0 || (context.ClientIdentity is { } client && g.Clients.Contains(client)))
            && g.EncryptionContextEquals.All(c => encryptionContext is not null && encryptionContext.TryGetValue(c.Key, out var v) && v == c.Value));
    }

    private void Authorize(StoreBody body, MasterKey key, string action, KeyRequestContext context, IReadOnlyDictionary<string, string>? encryptionContext)
    {
        if (!IsAllowed(body, key, action, context, encryptionContext))
        {
            var via = context.InvokedBy is null ? "" : $" (via {context.InvokedBy})";
            throw new KeyStoreException(KeyStoreErrors.AccessDenied, $"{context.Principal}{via} is not allowed to {action} with key {key.KeyId}.");
        }
    }

    private static void RequireState(MasterKey key, params KeyState[] allowed)
    {
        if (allowed.Contains(key.State))
        {
            return;
        }

        throw key.State switch
        {
            KeyState.Disabled => new KeyStoreException(KeyStoreErrors.Disabled, $"Key {key.KeyId} is disabled; enable it to use it."),
            KeyState.PendingDeletion => new KeyStoreException(KeyStoreErrors.KmsInvalidState, $"Key {key.KeyId} is pending deletion (on {key.DeletionDate:u}); cancel the deletion to use it."),
            KeyState.Destroyed => new KeyStoreException(KeyStoreErrors.KmsInvalidState, $"Key {key.KeyId} was destroyed: everything encrypted under it is unrecoverable."),
            _ => new KeyStoreException(KeyStoreErrors.KmsInvalidState, $"Key {key.KeyId} is {key.State}."),
        };
    }

    /// <summary>
    /// Records a request refused before it reached the store (a caller who claimed to be someone else at the
    /// admin socket, say) exactly as the store records its own refusals, then throws the refusal. The key is
    /// named in the record as the caller gave it.
    /// </summary>
    public void Refuse(string eventName, KeyRequestContext context, string? keyIdOrAlias, string errorCode, string message) =>
        Request<bool>(eventName, context, keyIdOrAlias, null, _ => throw new KeyStoreException(errorCode, message));

    /// <summary>
    /// Runs one request under the lock: the operation works on the loaded body, then its audit record,
    /// allowed or denied, is written before anything is committed (<see cref="RecordThenCommit"/>). If the
    /// record cannot be written the request fails (fail closed) and the store is left as it was.
    /// <paramref name="eventData"/> goes into the record's additionalEventData whatever the outcome,
    /// <paramref name="resultData"/> only when the request succeeds (it may describe the result; never a secret).
    /// </summary>
    private T Request<T>(
        string eventName,
        KeyRequestContext context,
        string? keyIdForAudit,
        IReadOnlyDictionary<string, string>? encryptionContext,
        Func<StoreBody, (T Result, bool Changed, string? KeyId, int? KeyVersion)> operation,
        Action<T>? discard = null,
        IReadOnlyDictionary<string, string>? eventData = null,
        Func<T, IReadOnlyDictionary<string, string>?>? resultData = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // After losing the race twice, the request asks for its turn: others then wait for it (no starving).
                return RequestOnce(eventName, context, keyIdForAudit, encryptionContext, operation, discard, eventData, resultData, exclusive: attempt > 2);
            }
            catch (KeyStoreConflictException e)
            {
                if (attempt == MaxAttempts)
                {
                    throw new KeyStoreException(KeyStoreErrors.StoreWriteFailed, $"{eventName} was not made: the key store kept changing under it ({MaxAttempts} attempts, each read again and refused at commit), so nothing was written; try again. {e.Message}", e);
                }

                // Another writer committed first: decide again on what it left (a short random pause spreads contenders).
                Thread.Sleep(Random.Shared.Next(1, 5 * attempt));
            }
        }
    }

    /// <summary>How many times a request runs when other writers keep committing first (a medium that compares at commit).</summary>
    private const int MaxAttempts = 20;

    private T RequestOnce<T>(
        string eventName,
        KeyRequestContext context,
        string? keyIdForAudit,
        IReadOnlyDictionary<string, string>? encryptionContext,
        Func<StoreBody, (T Result, bool Changed, string? KeyId, int? KeyVersion)> operation,
        Action<T>? discard,
        IReadOnlyDictionary<string, string>? eventData,
        Func<T, IReadOnlyDictionary<string, string>?>? resultData,
        bool exclusive)
    {
        using (Lock(exclusive))
        {
            var body = Load();
            var destroyed = DestroyDueKeys(body);
            using var rekey = destroyed.Count > 0 ? PlanReKey() : null; // destruction re-keys the store in the same commit
            string? keyId = keyIdForAudit;
            try
            {
                var (result, changed, id, keyVersion) = operation(body);
                keyId = id;
                var record = WithEventData(NewRecord(eventName, context, keyId, encryptionContext, keyVersion, null, null), eventData, resultData?.Invoke(result));
                if (destroyed.Count == 0 && CountAsRepeat(record))
                {
                    return result; // decided in full; its record is the first of its window, with the window's summary to come
                }

                var records = DestructionRecords(destroyed, rekey);
                records.Add(record);
                try
                {
                    RecordThenCommit(body, WithSummaries(records), rekey: rekey);
                }
                catch (Exception e)
                {
                    if (e is KeyStoreException { ErrorCode: KeyStoreErrors.StoreWriteFailed })
                    {
                        _pendingSummaries.Clear(); // in the log, whatever became of the store write
                    }

                    discard?.Invoke(result);
                    throw;
                }

                Recorded(records);
                return result;
            }
            catch (KeyStoreException e) when (e.ErrorCode is not (KeyStoreErrors.AuditWriteFailed or KeyStoreErrors.StoreWriteFailed))
            {
                // A refused operation may have touched the body before it threw: commit only the destructions
                // (and the anchor).
                body = Load();
                DestroyDueKeys(body);

                var record = WithEventData(NewRecord(eventName, context, keyId, encryptionContext, null, e.ErrorCode, e.Message), eventData, null);
                if (destroyed.Count == 0 && CountAsRepeat(record))
                {
                    throw; // the same refusal as one recorded inside the window: counted
                }

                var records = DestructionRecords(destroyed, rekey);
                records.Add(record);
                try
                {
                    RecordThenCommit(body, WithSummaries(records), refusal: e, rekey: rekey);
                    Recorded(records);
                }
                catch (KeyStoreException failed) when (failed.ErrorCode == KeyStoreErrors.StoreWriteFailed)
                {
                    // Refused either way: the refusal is the answer; the log says what was not committed.
                    _pendingSummaries.Clear();
                }

                throw;
            }
        }
    }

    private static Audit.AuditRecord WithEventData(Audit.AuditRecord record, params IReadOnlyDictionary<string, string>?[] data)
    {
        foreach (var (name, value) in data.Where(d => d is not null).SelectMany(d => d!))
        {
            (record.AdditionalEventData ??= [])[name] = value;
        }

        return record;
    }
}
