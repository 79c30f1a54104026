namespace BlockSim.KeyStore.Audit;

/// <summary>
/// One audit event, shaped like a cloud audit record. Never holds key material or ciphertext: the
/// encryption context is in clear and must not hold secrets.
/// </summary>
public sealed class AuditRecord
{
    public long Sequence { get; set; }

    public string PreviousHash { get; set; } = "";

    public DateTimeOffset EventTime { get; set; }

    public string EventName { get; set; } = "";

    public AuditIdentity UserIdentity { get; set; } = new();

    public string? InvokedBy { get; set; }

    public string? SourceAddress { get; set; }

    public AuditRequestParameters RequestParameters { get; set; } = new();

    public Dictionary<string, string>? AdditionalEventData { get; set; }

    public string RequestId { get; set; } = "";

    public string EventId { get; set; } = "";

    public string? ErrorCode { get; set; }

    public string? ErrorMessage { get; set; }

    /// <summary>
    /// The host and process that wrote the record (HOST/PROGRAM[PID]): with a store shared by a fleet, which
    /// daemon used a key. Null in records written before it existed.
    /// </summary>
    public string? RecordedBy { get; set; }

    /// <summary>HMAC-SHA256 of the record without this field, under a key derived from the store's root key.</summary>
    public string Hmac { get; set; } = "";
}

public sealed class AuditIdentity
{
    public string Type { get; set; } = "";

    public string Principal { get; set; } = "";

    /// <summary>The network client the service acted for (a certificate subject, or "anonymous"); null when none.</summary>
    public string? ClientIdentity { get; set; }

    /// <summary>How the principal was established (the admin socket's peer credentials, the key file); null for the daemon's own requests.</summary>
    public string? AuthenticatedBy { get; set; }

    /// <summary>Who really asked when the key holder acted offline as <see cref="Principal"/> (type "Impersonation").</summary>
    public string? ImpersonatedBy { get; set; }
}

public sealed class AuditRequestParameters
{
    public string? KeyId { get; set; }

    public Dictionary<string, string>? EncryptionContext { get; set; }

    public string? GrantId { get; set; }
}
