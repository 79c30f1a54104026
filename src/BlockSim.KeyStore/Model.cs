namespace BlockSim.KeyStore;

public enum KeyState
{
    Enabled,
    Disabled,
    PendingDeletion,
    Destroyed,
}

/// <summary>
/// Who asks: the principal, and the service acting for it (the daemon for a volume owner). When the service
/// acts because a network client asked (an NBD client attaching a volume), <paramref name="ClientIdentity"/>
/// names that client (its verified certificate subject, or "anonymous") and <paramref name="SourceAddress"/>
/// where it connects from, so policies and grants can decide per client and the audit record shows it.
/// </summary>
public sealed record KeyRequestContext(string Principal, string? InvokedBy = null, string? SourceAddress = null, string? ClientIdentity = null)
{
    /// <summary>
    /// How the principal was established, for the audit record: e.g. "SO_PEERCRED uid=1001 pid=4242" when the
    /// daemon's admin socket named the caller from the kernel, "key file" when the key holder opened the store
    /// offline. Null for the daemon's own requests.
    /// </summary>
    public string? AuthenticatedBy { get; init; }

    /// <summary>
    /// Set when the holder of the store's key file acts offline as another principal (<c>--as</c>): who really
    /// asked. Policies and grants are evaluated for <see cref="Principal"/>; the record says it was impersonated.
    /// </summary>
    public string? ImpersonatedBy { get; init; }
}

/// <summary>What DescribeKey shows: everything but key material.</summary>
public sealed record KeyDescription(
    string KeyId,
    IReadOnlyList<string> Aliases,
    string Description,
    DateTimeOffset Created,
    KeyState State,
    DateTimeOffset? DeletionDate,
    int CurrentVersion,
    int MinimumDecryptVersion);

/// <summary>A narrow permission: the grantee may perform the operations, optionally only with this encryption context.</summary>
public sealed record GrantInfo(
    string GrantId,
    string KeyId,
    string Grantee,
    IReadOnlyList<string> Operations,
    IReadOnlyDictionary<string, string> EncryptionContextEquals,
    string? RetiringPrincipal,
    IReadOnlyList<string> Clients);

/// <summary>The persisted state (the store file's body).</summary>
internal sealed class StoreBody
{
    public long Sequence { get; set; }

    public List<MasterKey> Keys { get; set; } = [];

    public List<StoredGrant> Grants { get; set; } = [];

    /// <summary>
    /// The audit log's last record as of this write (its sequence and the SHA-256 of its line). Every request
    /// writes it, so the log cannot be put back to an older copy without the store noticing; null in stores
    /// written before anchoring existed, until their next request.
    /// </summary>
    public AuditAnchor? AuditAnchor { get; set; }

    /// <summary>
    /// The audit log's MAC key sealed under the root key: random, not derived from the root, so a re-key
    /// (which replaces the root) leaves every record verifiable. Null in stores written before re-keying
    /// existed, whose audit key is derived from the root; their next write seals that derived key here.
    /// </summary>
    public Sealing.SealedSecret? AuditKey { get; set; }
}

internal sealed class AuditAnchor
{
    public long Sequence { get; set; }

    public string Hash { get; set; } = "";
}

internal sealed class MasterKey
{
    public string KeyId { get; set; } = "";

    public List<string> Aliases { get; set; } = [];

    public string Description { get; set; } = "";

    public DateTimeOffset Created { get; set; }

    public KeyState State { get; set; }

    public DateTimeOffset? DeletionDate { get; set; }

    public string Policy { get; set; } = "";

    /// <summary>
    /// The principal that created the key (its administrator in the default policy). It alone may read and
    /// replace a stored policy that no longer parses. Null in keys created before it was recorded: the key's
    /// CreateKey audit record says it then.
    /// </summary>
    public string? CreatedBy { get; set; }

    public int MinimumDecryptVersion { get; set; } = 1;

    public List<KeyMaterial> Versions { get; set; } = [];

    public KeyDescription Describe() =>
        new(KeyId, Aliases, Description, Created, State, DeletionDate, Versions.Count == 0 ? 0 : Versions.Max(v => v.Version), MinimumDecryptVersion);
}

/// <summary>One version of a master key: 32 random bytes sealed under the root key (AES-256-GCM).</summary>
internal sealed class KeyMaterial
{
    public int Version { get; set; }

    public DateTimeOffset Created { get; set; }

    public byte[] Nonce { get; set; } = [];

    public byte[] Sealed { get; set; } = [];
}

internal sealed class StoredGrant
{
    public string GrantId { get; set; } = "";

    public string KeyId { get; set; } = "";

    public string Grantee { get; set; } = "";

    public List<string> Operations { get; set; } = [];

    public Dictionary<string, string> EncryptionContextEquals { get; set; } = [];

    public string? RetiringPrincipal { get; set; }

    /// <summary>When not empty, the grant only applies to requests made for one of these client identities.</summary>
    public List<string> Clients { get; set; } = [];

    public GrantInfo ToInfo() => new(GrantId, KeyId, Grantee, Operations, EncryptionContextEquals, RetiringPrincipal, Clients);
}
