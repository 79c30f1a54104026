namespace BlockSim.KeyStore;

/// <summary>
/// Every <see cref="KeyStoreException.ErrorCode"/> the store, its admin socket and the CLI use, in one place
/// so that nothing matches a code by a string typed twice. The values are wire values: audit records, the
/// admin socket's answers and the CLI's messages carry them, and they keep the spelling of a cloud KMS's
/// error names (AccessDeniedException, ...) so its clients' habits carry over. Never change a value.
/// </summary>
public static class KeyStoreErrors
{
    /// <summary>A key policy or grant does not allow the caller the operation, or the caller may not reach the store (or act as whom it claims).</summary>
    public const string AccessDenied = "AccessDeniedException";

    /// <summary>Creating something that is there already: a key store in a directory that holds one, an alias that is taken.</summary>
    public const string AlreadyExists = "AlreadyExistsException";

    /// <summary>The audit log's head is damaged, or the log ends before the record the store's anchor names (rolled back or replaced).</summary>
    public const string AuditLogDamaged = "AuditLogDamaged";

    /// <summary>The audit record of a request could not be written, so the request was refused and nothing changed (fail closed).</summary>
    public const string AuditWriteFailed = "AuditWriteFailed";

    /// <summary>The key is disabled; enabling it makes it usable again.</summary>
    public const string Disabled = "DisabledException";

    /// <summary>The key file may be read or changed by users other than its owner, so the store refuses to trust it.</summary>
    public const string InsecureKeyFile = "InsecureKeyFile";

    /// <summary>A wrapped key that is not the store's, is truncated, names a missing key version, or does not unwrap.</summary>
    public const string InvalidCiphertext = "InvalidCiphertextException";

    /// <summary>The key file is not a 32-byte key-store key file.</summary>
    public const string InvalidKeyFile = "InvalidKeyFile";

    /// <summary>The key file that seals an existing store is missing.</summary>
    public const string KeyFileMissing = "KeyFileMissing";

    /// <summary>The daemon's admin socket failed to answer, or answered with nothing usable.</summary>
    public const string KmsInternal = "KMSInternalException";

    /// <summary>The key (or export) is in a state that does not allow the request: pending deletion, destroyed, a version below the minimum, an unreadable stored policy.</summary>
    public const string KmsInvalidState = "KMSInvalidStateException";

    /// <summary>A key policy document that does not parse or breaks the policy grammar.</summary>
    public const string MalformedPolicyDocument = "MalformedPolicyDocumentException";

    /// <summary>No such key, alias, grant, key store, export or daemon.</summary>
    public const string NotFound = "NotFoundException";

    /// <summary>The admin socket was asked for an operation it does not have.</summary>
    public const string UnknownOperation = "UnknownOperationException";

    /// <summary>The admin socket could not start a write-log recording on an export.</summary>
    public const string RecordingFailed = "RecordingFailed";

    /// <summary>No copy of the key store verifies, or a sealed part of it has the wrong shape: restore it from a backup.</summary>
    public const string StoreDamaged = "StoreDamaged";

    /// <summary>The key store's medium did not answer (etcd unreachable, or without quorum): the request failed closed; the next one tries again.</summary>
    public const string StoreUnavailable = "DependencyTimeoutException";

    /// <summary>The key store (or its backup copy, or a re-key's key file) could not be written; the message says whether the change was made.</summary>
    public const string StoreWriteFailed = "StoreWriteFailed";

    /// <summary>The key file or passphrase does not open the store (or no longer does, after another process re-keyed it).</summary>
    public const string UnlockFailed = "UnlockFailed";

    /// <summary>A request, argument or option the store or the CLI cannot take; the message says what it takes.</summary>
    public const string Validation = "ValidationException";
}
