using BlockSim.KeyStore;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// Turns one admin-socket call into the operation on the caller's <see cref="IKeyAdministration"/>. The
/// operation names are the key store's (and AWS KMS's) own; the answer is what the operation returns.
/// </summary>
internal static class KeyStoreDispatch
{
    public static readonly IReadOnlySet<string> Operations = new HashSet<string>(StringComparer.Ordinal)
    {
        "CreateKey", "ListKeys", "DescribeKey", "EnableKey", "DisableKey", "CancelKeyDeletion", "RotateKey",
        "ScheduleKeyDeletion", "CreateAlias", "GetKeyPolicy", "PutKeyPolicy", "TestKeyPolicy", "CreateGrant",
        "ListGrants", "RetireGrant", "VerifyAuditLog", "GetAuditRecords",
    };

    public static object? Run(IKeyAdministration admin, string operation, KeyStoreCall call) => operation switch
    {
        "CreateKey" => admin.CreateKey(call.Description ?? "", call.AliasName),
        "ListKeys" => admin.ListKeys(),
        "DescribeKey" => admin.DescribeKey(Need(call.KeyId, "keyId")),
        "EnableKey" => admin.EnableKey(Need(call.KeyId, "keyId")),
        "DisableKey" => admin.DisableKey(Need(call.KeyId, "keyId")),
        "CancelKeyDeletion" => admin.CancelKeyDeletion(Need(call.KeyId, "keyId")),
        "RotateKey" => admin.RotateKey(Need(call.KeyId, "keyId"), call.MinimumDecryptVersion),
        "ScheduleKeyDeletion" => admin.ScheduleKeyDeletion(Need(call.KeyId, "keyId"), call.PendingWindowInDays ?? SealedKeyStore.MaximumDeletionDays),
        "CreateAlias" => admin.CreateAlias(Need(call.AliasName, "aliasName"), Need(call.KeyId, "keyId")),
        "GetKeyPolicy" => new { policy = admin.GetKeyPolicy(Need(call.KeyId, "keyId")) },
        "PutKeyPolicy" => Done(() => admin.PutKeyPolicy(Need(call.KeyId, "keyId"), Need(call.Policy, "policy"), call.BypassPolicyLockoutSafetyCheck)),
        "TestKeyPolicy" => new
        {
            allowed = admin.TestPolicy(
                Need(call.KeyId, "keyId"),
                new KeyRequestContext(Need(call.Principal, "principal"), call.InvokedBy, call.SourceAddress, call.ClientIdentity),
                Need(call.Action, "action"),
                call.EncryptionContext ?? []),
        },
        "CreateGrant" => admin.CreateGrant(Need(call.KeyId, "keyId"), Need(call.Grantee, "grantee"), call.Operations ?? [], call.EncryptionContext ?? [], call.RetiringPrincipal, call.Clients ?? []),
        "ListGrants" => admin.ListGrants(Need(call.KeyId, "keyId")),
        "RetireGrant" => Done(() => admin.RetireGrant(Need(call.GrantId, "grantId"))),
        "VerifyAuditLog" => admin.VerifyAudit(),
        "GetAuditRecords" => admin.AuditTail(call.Tail is > 0 ? call.Tail.Value : 50),
        _ => throw new KeyStoreException(KeyStoreErrors.Validation, $"There is no key-store operation '{operation}'."),
    };

    private static string Need(string? value, string field) =>
        value ?? throw new KeyStoreException(KeyStoreErrors.Validation, $"The request needs '{field}'.");

    private static object Done(Action action)
    {
        action();
        return new { };
    }
}
