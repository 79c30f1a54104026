using System.Text.Json;
using BlockSim.KeyStore;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// The CLI's side of the admin socket: each operation is one <c>POST /v1/keystore/OPERATION</c>, and the
/// daemon's refusals come back as the same <see cref="KeyStoreException"/>s (so the same messages and exit
/// codes) the store gives offline. The daemon names the caller; the claim the CLI was given with
/// <c>--as</c>, is sent only so that its refusal is audited.
/// </summary>
internal sealed class AdminSocketClient : IKeyAdministration
{
    public const string NoKeyStore = "KeyStoreNotServed";
    private readonly AdminConnection _daemon;
    private readonly string? _actAs;

    private AdminSocketClient(AdminConnection daemon, string? actAs)
    {
        _daemon = daemon;
        _actAs = actAs;
    }

    /// <summary>
    /// A client for the daemon at <paramref name="socketPath"/> when one is serving the key store there; null
    /// when no daemon listens (no socket, or a stale one) or it serves none. A daemon that is there but will
    /// not let this user connect is an error, not a reason to go behind its back.
    /// </summary>
    public static AdminSocketClient? TryConnect(string socketPath, string? actAs)
    {
        if (!AdminConnection.IsServed(socketPath))
        {
            return null;
        }

        var daemon = new AdminConnection(socketPath);
        try
        {
            if (daemon.Send<KeyStoreStatus>(HttpMethod.Get, "v1/keystore") is { Served: true })
            {
                return new AdminSocketClient(daemon, actAs);
            }
        }
        catch (KeyStoreException)
        {
            // It went away between the probe and the question, or is not a blocksim daemon.
        }

        daemon.Dispose();
        return null;
    }

    public KeyDescription CreateKey(string description, string? alias) => Call<KeyDescription>("CreateKey", new() { Description = description, AliasName = alias });

    public IReadOnlyList<KeyDescription> ListKeys() => Call<List<KeyDescription>>("ListKeys", new());

    public KeyDescription DescribeKey(string key) => Call<KeyDescription>("DescribeKey", new() { KeyId = key });

    public KeyDescription EnableKey(string key) => Call<KeyDescription>("EnableKey", new() { KeyId = key });

    public KeyDescription DisableKey(string key) => Call<KeyDescription>("DisableKey", new() { KeyId = key });

    public KeyDescription CancelKeyDeletion(string key) => Call<KeyDescription>("CancelKeyDeletion", new() { KeyId = key });

    public KeyDescription RotateKey(string key, int? minimumDecryptVersion) => Call<KeyDescription>("RotateKey", new() { KeyId = key, MinimumDecryptVersion = minimumDecryptVersion });

    public KeyDescription ScheduleKeyDeletion(string key, int days) => Call<KeyDescription>("ScheduleKeyDeletion", new() { KeyId = key, PendingWindowInDays = days });

    public KeyDescription CreateAlias(string alias, string key) => Call<KeyDescription>("CreateAlias", new() { AliasName = alias, KeyId = key });

    public string GetKeyPolicy(string key) => Call<JsonElement>("GetKeyPolicy", new() { KeyId = key }).GetProperty("policy").GetString()!;

    public void PutKeyPolicy(string key, string policy, bool bypassLockoutCheck) =>
        Call<JsonElement>("PutKeyPolicy", new() { KeyId = key, Policy = policy, BypassPolicyLockoutSafetyCheck = bypassLockoutCheck });

    public bool TestPolicy(string key, KeyRequestContext asked, string action, IReadOnlyDictionary<string, string> encryptionContext) =>
        Call<JsonElement>("TestKeyPolicy", new()
        {
            KeyId = key,
            Principal = asked.Principal,
            Action = action,
            InvokedBy = asked.InvokedBy,
            ClientIdentity = asked.ClientIdentity,
            SourceAddress = asked.SourceAddress,
            EncryptionContext = new(encryptionContext),
        }).GetProperty("allowed").GetBoolean();

    public GrantInfo CreateGrant(string key, string grantee, IReadOnlyList<string> operations, IReadOnlyDictionary<string, string> encryptionContext, string? retiringPrincipal, IReadOnlyList<string> clients) =>
        Call<GrantInfo>("CreateGrant", new() { KeyId = key, Grantee = grantee, Operations = [.. operations], EncryptionContext = new(encryptionContext), RetiringPrincipal = retiringPrincipal, Clients = [.. clients] });

    public IReadOnlyList<GrantInfo> ListGrants(string key) => Call<List<GrantInfo>>("ListGrants", new() { KeyId = key });

    public void RetireGrant(string grantId) => Call<JsonElement>("RetireGrant", new() { GrantId = grantId });

    public AuditReport VerifyAudit() => Call<AuditReport>("VerifyAuditLog", new());

    public IReadOnlyList<string> AuditTail(int count) => Call<List<string>>("GetAuditRecords", new() { Tail = count });

    public void Dispose() => _daemon.Dispose();

    private T Call<T>(string operation, KeyStoreCall call)
    {
        call.ActAs = _actAs;
        return _daemon.Send<T>(HttpMethod.Post, $"v1/keystore/{operation}", call);
    }
}
