namespace BlockSim.Daemon.Admin;

/// <summary>
/// One key-store request on the admin socket: <c>POST /v1/keystore/OPERATION</c> with this body, in the
/// manner of the AWS KMS JSON API (an operation name and its parameters). Unknown fields are refused.
/// </summary>
internal sealed class KeyStoreCall
{
    public string? KeyId { get; set; }

    public string? Description { get; set; }

    public string? AliasName { get; set; }

    public string? Policy { get; set; }

    public bool BypassPolicyLockoutSafetyCheck { get; set; }

    public int? MinimumDecryptVersion { get; set; }

    public int? PendingWindowInDays { get; set; }

    public string? Grantee { get; set; }

    public List<string>? Operations { get; set; }

    public Dictionary<string, string>? EncryptionContext { get; set; }

    public string? RetiringPrincipal { get; set; }

    public List<string>? Clients { get; set; }

    public string? GrantId { get; set; }

    /// <summary>policy test: the principal, action and request being asked about.</summary>
    public string? Principal { get; set; }

    public string? Action { get; set; }

    public string? InvokedBy { get; set; }

    public string? ClientIdentity { get; set; }

    public string? SourceAddress { get; set; }

    /// <summary>audit show: how many of the last records.</summary>
    public int? Tail { get; set; }

    /// <summary>
    /// A principal the caller asked to act as (the CLI's <c>--as</c>). Always refused, and audited: the admin
    /// socket names its callers from the kernel. Carried so the refusal is recorded, not silently dropped.
    /// </summary>
    public string? ActAs { get; set; }
}


/// <summary>What <c>audit verify</c> reports.</summary>
internal sealed record AuditReport(long Records, IReadOnlyList<string> Problems, IReadOnlyList<string> Notes);

/// <summary>What <c>GET /v1/keystore</c> answers: whether this daemon serves a key store (a memory-only daemon does not).</summary>
internal sealed record KeyStoreStatus(bool Served);
