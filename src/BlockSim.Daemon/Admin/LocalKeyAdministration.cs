using BlockSim.KeyStore;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// The management operations on a store this process has open, for one caller: the CLI offline (the key
/// file's holder, or whom it impersonates with <c>--as</c>) or a caller the admin socket has named.
/// </summary>
internal sealed class LocalKeyAdministration(SealedKeyStore store, KeyRequestContext caller, bool ownsStore) : IKeyAdministration
{
    public KeyDescription CreateKey(string description, string? alias) => store.CreateKey(description, caller, alias);

    public IReadOnlyList<KeyDescription> ListKeys() => store.ListKeys(caller);

    public KeyDescription DescribeKey(string key) => store.DescribeKey(key, caller);

    public KeyDescription EnableKey(string key) => store.EnableKey(key, caller);

    public KeyDescription DisableKey(string key) => store.DisableKey(key, caller);

    public KeyDescription CancelKeyDeletion(string key) => store.CancelKeyDeletion(key, caller);

    public KeyDescription RotateKey(string key, int? minimumDecryptVersion) => store.RotateKey(key, caller, minimumDecryptVersion);

    public KeyDescription ScheduleKeyDeletion(string key, int days) => store.ScheduleKeyDeletion(key, caller, days);

    public KeyDescription CreateAlias(string alias, string key)
    {
        store.CreateAlias(alias, key, caller);
        return store.DescribeKey(alias, caller);
    }

    public string GetKeyPolicy(string key) => store.GetKeyPolicy(key, caller);

    public void PutKeyPolicy(string key, string policy, bool bypassLockoutCheck) => store.PutKeyPolicy(key, policy, caller, bypassLockoutCheck);

    public bool TestPolicy(string key, KeyRequestContext asked, string action, IReadOnlyDictionary<string, string> encryptionContext) =>
        store.TestPolicy(key, asked.Principal, action, caller, encryptionContext, asked.InvokedBy, asked.ClientIdentity, asked.SourceAddress);

    public GrantInfo CreateGrant(string key, string grantee, IReadOnlyList<string> operations, IReadOnlyDictionary<string, string> encryptionContext, string? retiringPrincipal, IReadOnlyList<string> clients) =>
        store.CreateGrant(key, grantee, operations, encryptionContext, caller, retiringPrincipal, clients);

    public IReadOnlyList<GrantInfo> ListGrants(string key) => store.ListGrants(key, caller);

    public void RetireGrant(string grantId) => store.RetireGrant(grantId, caller);

    public AuditReport VerifyAudit()
    {
        var verification = store.VerifyAuditLog();
        return new AuditReport(verification.Records, verification.Problems, verification.Notes);
    }

    public IReadOnlyList<string> AuditTail(int count) => store.AuditTail(count);

    public void Dispose()
    {
        if (ownsStore)
        {
            store.Dispose();
        }
    }
}
