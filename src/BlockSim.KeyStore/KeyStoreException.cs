namespace BlockSim.KeyStore;

/// <summary>
/// A refused or failed key-store request. <see cref="ErrorCode"/> is the audit record's errorCode, one of
/// <see cref="KeyStoreErrors"/> (match it by those constants, never by a string typed again); the message
/// says which key and which field, never a secret.
/// </summary>
public sealed class KeyStoreException(string errorCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public string ErrorCode { get; } = errorCode;
}
