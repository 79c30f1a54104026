using BlockSim.KeyStore;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// The key store's management operations for one caller, whoever serves them: the store opened here with
/// its key file (<see cref="LocalKeyAdministration"/>), or a running daemon through its admin socket
/// (<see cref="AdminSocketClient"/>), which names the caller itself.
/// </summary>
internal interface IKeyAdministration : IDisposable
{
    KeyDescription CreateKey(string description, string? alias);

    IReadOnlyList<KeyDescription> ListKeys();

    KeyDescription DescribeKey(string key);

    KeyDescription EnableKey(string key);

    KeyDescription DisableKey(string key);

    KeyDescription CancelKeyDeletion(string key);

    KeyDescription RotateKey(string key, int? minimumDecryptVersion);

    KeyDescription ScheduleKeyDeletion(string key, int days);

    KeyDescription CreateAlias(string alias, string key);

    string GetKeyPolicy(string key);

    void PutKeyPolicy(string key, string policy, bool bypassLockoutCheck);

    bool TestPolicy(string key, KeyRequestContext asked, string action, IReadOnlyDictionary<string, string> encryptionContext);

    GrantInfo CreateGrant(string key, string grantee, IReadOnlyList<string> operations, IReadOnlyDictionary<string, string> encryptionContext, string? retiringPrincipal, IReadOnlyList<string> clients);

    IReadOnlyList<GrantInfo> ListGrants(string key);

    void RetireGrant(string grantId);

    AuditReport VerifyAudit();

    /// <summary>The last <paramref name="count"/> audit records, each its line as the log holds it.</summary>
    IReadOnlyList<string> AuditTail(int count);
}
