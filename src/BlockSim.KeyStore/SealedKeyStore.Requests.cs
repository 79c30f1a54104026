using BlockSim.KeyStore.Audit;
using BlockSim.KeyStore.Policies;

namespace BlockSim.KeyStore;

/// <summary>What every request goes through: finding the key, authorization, state checks, the audit record.</summary>
public sealed partial class SealedKeyStore
{
    private static MasterKey Find(StoreBody body, string keyIdOrAlias) =>
        body.Keys.FirstOrDefault(k => k.KeyId == keyIdOrAlias || k.Aliases.Contains(keyIdOrAlias))
        ?? throw new KeyStoreException("NotFoundException", $"There is no key '{keyIdOrAlias}' in the store.");

    private bool IsAllowed(StoreBody body, MasterKey key, string action, KeyRequestContext context, IReadOnlyDictionary<string, string>? encryptionContext)
    {
        var decision = KeyPolicy.Parse(key.Policy).Evaluate(
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
            throw new KeyStoreException("AccessDeniedException", $"{context.Principal}{via} is not allowed to {action} with key {key.KeyId}.");
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
            KeyState.Disabled => new KeyStoreException("DisabledException", $"Key {key.KeyId} is disabled; enable it to use it."),
            KeyState.PendingDeletion => new KeyStoreException("KMSInvalidStateException", $"Key {key.KeyId} is pending deletion (on {key.DeletionDate:u}); cancel the deletion to use it."),
            KeyState.Destroyed => new KeyStoreException("KMSInvalidStateException", $"Key {key.KeyId} was destroyed: everything encrypted under it is unrecoverable."),
            _ => new KeyStoreException("KMSInvalidStateException", $"Key {key.KeyId} is {key.State}."),
        };
    }

    /// <summary>
    /// Runs one request under the lock and writes its audit record, allowed or denied. The record is on disk
    /// before the result is returned; if it cannot be written the request fails (fail closed).
    /// </summary>
    private T Request<T>(string eventName, KeyRequestContext context, string? keyIdForAudit, IReadOnlyDictionary<string, string>? encryptionContext, Func<StoreBody, (T Result, bool Changed, string? KeyId, int? KeyVersion)> operation, Action<T>? discard = null)
    {
        string? keyId = keyIdForAudit;
        int? keyVersion = null;
        T result;
        try
        {
            using (Lock())
            {
                var body = Load();
                var destroyed = DestroyDueKeys(body);
                bool changed;
                try
                {
                    (result, changed, keyId, keyVersion) = operation(body);
                }
                finally
                {
                    // Destruction of due keys is saved even when the request itself is refused.
                    if (destroyed)
                    {
                        Save(body);
                    }
                }

                if (changed)
                {
                    Save(body);
                }
            }
        }
        catch (KeyStoreException e)
        {
            Audit(eventName, context, keyId, encryptionContext, null, e.ErrorCode, e.Message);
            throw;
        }

        try
        {
            Audit(eventName, context, keyId, encryptionContext, keyVersion, null, null);
        }
        catch (Exception e)
        {
            discard?.Invoke(result);
            throw new KeyStoreException("AuditWriteFailed", $"The audit record for {eventName} could not be written, so the request was refused: {e.Message}", e);
        }

        return result;
    }

    private void Record(string eventName, KeyRequestContext context, Func<StoreBody, string> keyId, IReadOnlyDictionary<string, string>? encryptionContext, int? version)
    {
        StoreBody body;
        using (Lock())
        {
            body = Load();
        }

        Audit(eventName, context, keyId(body), encryptionContext, version, null, null);
    }

    private void Audit(string eventName, KeyRequestContext context, string? keyId, IReadOnlyDictionary<string, string>? encryptionContext, int? keyVersion, string? errorCode, string? errorMessage)
    {
        KeyStoreMetrics.Request(eventName, errorCode);

        // Under the store's lock: the daemon and a CLI command may append at the same moment, and each append
        // reads the head, writes a record and writes the head; interleaved, they would break the chain.
        using var held = Lock();
        _audit.Append(new AuditRecord
        {
            EventTime = _time.GetUtcNow(),
            EventName = eventName,
            UserIdentity = new AuditIdentity
            {
                Type = context.InvokedBy is null ? "Principal" : "ServiceActingForPrincipal",
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
        });
    }
}
