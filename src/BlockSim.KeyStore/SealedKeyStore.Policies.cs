using BlockSim.KeyStore.Policies;

namespace BlockSim.KeyStore;

/// <summary>
/// Key policies: read, replace and test them, each an audited request; and what becomes of a key whose stored
/// policy the current rules refuse.
/// <para>
/// A store written before policies were parsed strictly may hold one that no longer parses (a misspelt
/// action, an unknown field, a Resource other than "*"). What it meant cannot be known, so nothing is guessed
/// from it: every request on the key is refused, grants included (a Deny that no longer parses must not let
/// a grant through), with KMSInvalidStateException naming the fault's JSON path and the repair. The one way
/// out is the key's creator (<see cref="MasterKey.CreatedBy"/>, or for keys older than that field the
/// principal of the key's CreateKey audit record, whose HMAC proves the store wrote it) acting directly, not
/// through a service: it may GetKeyPolicy to see the stored text and PutKeyPolicy one that parses (and passes
/// the lockout check). Those records say so in additionalEventData (unreadableStoredPolicy).
/// </para>
/// </summary>
public sealed partial class SealedKeyStore
{
    public string GetKeyPolicy(string keyIdOrAlias, KeyRequestContext context)
    {
        string? repairing = null;
        return Request<string>("GetKeyPolicy", context, keyIdOrAlias, null, body =>
        {
            var key = Find(body, keyIdOrAlias);
            repairing = AuthorizePolicyAccess(body, key, "GetKeyPolicy", context);
            return (key.Policy, false, key.KeyId, null);
        }, resultData: _ => Repairing(repairing));
    }

    /// <summary>
    /// Replaces a key's policy. As in AWS, a policy that would leave the caller unable to PutKeyPolicy on the
    /// key afterwards is refused (nobody could repair it) unless <paramref name="bypassPolicyLockoutSafetyCheck"/>.
    /// The check asks the new policy alone, for this caller with no encryption context: grants do not count.
    /// A refusal of either kind (malformed or lockout) is audited like every refusal, and nothing changes.
    /// </summary>
    public void PutKeyPolicy(string keyIdOrAlias, string policyJson, KeyRequestContext context, bool bypassPolicyLockoutSafetyCheck = false)
    {
        string? repairing = null;
        Request<KeyDescription>("PutKeyPolicy", context, keyIdOrAlias, null, body =>
        {
            var key = Find(body, keyIdOrAlias);
            repairing = AuthorizePolicyAccess(body, key, "PutKeyPolicy", context);

            // Parsed inside the request (after authorization, so strangers learn nothing of the parser's view):
            // a malformed policy is then a refusal with its record, as any other is.
            var policy = KeyPolicy.Parse(policyJson);
            if (!bypassPolicyLockoutSafetyCheck
                && policy.Evaluate(new PolicyRequest(context.Principal, "PutKeyPolicy", context.InvokedBy, context.SourceAddress, null, context.ClientIdentity)) != PolicyDecision.Allow)
            {
                throw new KeyStoreException(
                    KeyStoreErrors.MalformedPolicyDocument,
                    $"The new policy would not allow {context.Principal} to PutKeyPolicy on this key afterwards, so it could lock every administrator out. Allow it in the policy, or bypass the lockout safety check (blocksim policy put --bypass-lockout-check) if that is what you want.");
            }

            key.Policy = policyJson;
            return (key.Describe(), true, key.KeyId, null);
        }, resultData: _ => Repairing(repairing));
    }

    /// <summary>
    /// Would <paramref name="principal"/> be allowed <paramref name="action"/> on the key (policy and grants)?
    /// The answer tells who may use the key, so <paramref name="caller"/> must be allowed GetKeyPolicy on it,
    /// and the question and the answer are audited (TestKeyPolicy; the tested encryption context is recorded
    /// as any request's is, in clear).
    /// </summary>
    public bool TestPolicy(string keyIdOrAlias, string principal, string action, KeyRequestContext caller, IReadOnlyDictionary<string, string>? encryptionContext = null, string? invokedBy = null, string? clientIdentity = null, string? sourceAddress = null)
    {
        var tested = new KeyRequestContext(principal, invokedBy, sourceAddress, clientIdentity);
        return Request<bool>("TestKeyPolicy", caller, keyIdOrAlias, encryptionContext, body =>
        {
            var key = Find(body, keyIdOrAlias);
            Authorize(body, key, "GetKeyPolicy", caller, null);
            return (IsAllowed(body, key, action, tested, encryptionContext), false, key.KeyId, null);
        }, eventData: TestedRequest(tested, action), resultData: allowed => new Dictionary<string, string> { ["answer"] = allowed ? "allowed" : "denied" });
    }

    /// <summary>The key's policy under the current rules; one they refuse makes every request on the key a refusal.</summary>
    private static KeyPolicy StoredPolicy(MasterKey key) =>
        TryParseStored(key, out var fault) ?? throw UnreadablePolicy(key, fault!, "");

    /// <summary>
    /// Authorizes GetKeyPolicy or PutKeyPolicy. Null for an ordinary request; for a stored policy that no
    /// longer parses, its fault when the caller is the key's creator acting directly (the repair). Anyone
    /// else is refused, as every request on such a key is.
    /// </summary>
    private string? AuthorizePolicyAccess(StoreBody body, MasterKey key, string action, KeyRequestContext context)
    {
        if (TryParseStored(key, out var fault) is not null)
        {
            Authorize(body, key, action, context, null);
            return null;
        }

        var creator = Creator(key);
        if (creator is not null && context.Principal == creator && context.InvokedBy is null)
        {
            return fault;
        }

        throw UnreadablePolicy(key, fault!, creator is not null ? "" : " This store does not record who created the key, and its audit log holds no CreateKey record for it: put back the audit segment that holds that record.");
    }

    private static KeyPolicy? TryParseStored(MasterKey key, out string? fault)
    {
        try
        {
            fault = null;
            return KeyPolicy.Parse(key.Policy);
        }
        catch (KeyStoreException e) when (e.ErrorCode == KeyStoreErrors.MalformedPolicyDocument)
        {
            fault = e.Message;
            return null;
        }
    }

    /// <summary>Who created the key: recorded in the key since that field exists, before it in the key's CreateKey audit record.</summary>
    private string? Creator(MasterKey key) =>
        key.CreatedBy
        ?? _audit.FindFirst(r => r is { EventName: "CreateKey", ErrorCode: null } && r.RequestParameters.KeyId == key.KeyId)?.UserIdentity.Principal;

    private static KeyStoreException UnreadablePolicy(MasterKey key, string fault, string more) => new(
        KeyStoreErrors.KmsInvalidState,
        $"Key {key.KeyId} has a stored policy that the current policy rules refuse ({fault.TrimEnd('.')}); an older BlockSim may have accepted it. Nothing is guessed from it: every request on the key is refused, grants included, until it is replaced. The principal that created the key may read it ('blocksim policy get {key.KeyId}') and replace it ('blocksim policy put {key.KeyId} FILE').{more}");

    private static Dictionary<string, string>? Repairing(string? fault) =>
        fault is null ? null : new() { ["unreadableStoredPolicy"] = fault };

    /// <summary>The request a TestKeyPolicy asks about (the principal, the action, and the service and client it comes through).</summary>
    private static Dictionary<string, string> TestedRequest(KeyRequestContext tested, string action)
    {
        var data = new Dictionary<string, string> { ["testedPrincipal"] = tested.Principal, ["testedAction"] = action };
        if (tested.InvokedBy is { } invokedBy)
        {
            data["testedInvokedBy"] = invokedBy;
        }

        if (tested.ClientIdentity is { } client)
        {
            data["testedClientIdentity"] = client;
        }

        if (tested.SourceAddress is { } source)
        {
            data["testedSourceAddress"] = source;
        }

        return data;
    }
}
