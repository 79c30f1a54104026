using BlockSim.KeyStore.Policies;

namespace BlockSim.KeyStore;

/// <summary>Key policies: read, replace and test them, each an audited request.</summary>
public sealed partial class SealedKeyStore
{
    public string GetKeyPolicy(string keyIdOrAlias, KeyRequestContext context) =>
        Request<string>("GetKeyPolicy", context, keyIdOrAlias, null, body =>
        {
            var key = Find(body, keyIdOrAlias);
            Authorize(body, key, "GetKeyPolicy", context, null);
            return (key.Policy, false, key.KeyId, null);
        });

    /// <summary>
    /// Replaces a key's policy. As in AWS, a policy that would leave the caller unable to PutKeyPolicy on the
    /// key afterwards is refused (nobody could repair it) unless <paramref name="bypassPolicyLockoutSafetyCheck"/>.
    /// The check asks the new policy alone, for this caller with no encryption context: grants do not count.
    /// A refusal of either kind (malformed or lockout) is audited like every refusal, and nothing changes.
    /// </summary>
    public void PutKeyPolicy(string keyIdOrAlias, string policyJson, KeyRequestContext context, bool bypassPolicyLockoutSafetyCheck = false)
    {
        Request<KeyDescription>("PutKeyPolicy", context, keyIdOrAlias, null, body =>
        {
            var key = Find(body, keyIdOrAlias);
            Authorize(body, key, "PutKeyPolicy", context, null);

            // Parsed inside the request (after authorization, so strangers learn nothing of the parser's view):
            // a malformed policy is then a refusal with its record, as any other is.
            var policy = KeyPolicy.Parse(policyJson);
            if (!bypassPolicyLockoutSafetyCheck
                && policy.Evaluate(new PolicyRequest(context.Principal, "PutKeyPolicy", context.InvokedBy, context.SourceAddress, null, context.ClientIdentity)) != PolicyDecision.Allow)
            {
                throw new KeyStoreException(
                    "MalformedPolicyDocumentException",
                    $"The new policy would not allow {context.Principal} to PutKeyPolicy on this key afterwards, so it could lock every administrator out. Allow it in the policy, or bypass the lockout safety check (blocksim policy put --bypass-lockout-check) if that is what you want.");
            }

            key.Policy = policyJson;
            return (key.Describe(), true, key.KeyId, null);
        });
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
