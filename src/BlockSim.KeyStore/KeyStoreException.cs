namespace BlockSim.KeyStore;

/// <summary>
/// A refused or failed key-store request. <see cref="ErrorCode"/> is the audit record's errorCode
/// (AccessDeniedException, DisabledException, KMSInvalidStateException, NotFoundException,
/// InvalidCiphertextException, ...); the message says which key and which field, never a secret.
/// </summary>
public sealed class KeyStoreException(string errorCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public string ErrorCode { get; } = errorCode;
}
