namespace BlockSim.Kmip;

/// <summary>Why a KMIP server failed an operation (KMIP 1.2 section 9.1.3.2.29), with what each means for the caller.</summary>
public enum KmipResultReason : uint
{
    ItemNotFound = 0x01,
    ResponseTooLarge = 0x02,
    AuthenticationNotSuccessful = 0x03,
    InvalidMessage = 0x04,
    OperationNotSupported = 0x05,
    MissingData = 0x06,
    InvalidField = 0x07,
    FeatureNotSupported = 0x08,
    OperationCanceledByRequester = 0x09,
    CryptographicFailure = 0x0A,
    IllegalOperation = 0x0B,
    PermissionDenied = 0x0C,
    ObjectArchived = 0x0D,
    IndexOutOfBounds = 0x0E,
    ApplicationNamespaceNotSupported = 0x0F,
    KeyFormatTypeNotSupported = 0x10,
    KeyCompressionTypeNotSupported = 0x11,
    EncodingOptionError = 0x12,
    KeyValueNotPresent = 0x13,
    AttestationRequired = 0x14,
    AttestationFailed = 0x15,
    Sensitive = 0x16,
    NotExtractable = 0x17,
    ObjectAlreadyExists = 0x18,
    GeneralFailure = 0x100,
}

public static class KmipResultReasons
{
    /// <summary>The reason's name as the specification writes it, and what it usually means here; an unknown value is named by its number.</summary>
    public static string Describe(KmipResultReason? reason) => reason switch
    {
        null => "no reason given",
        KmipResultReason.ItemNotFound => "Item Not Found: the server has no object with that id (destroyed, or made on another server)",
        KmipResultReason.ResponseTooLarge => "Response Too Large",
        KmipResultReason.AuthenticationNotSuccessful => "Authentication Not Successful: the server does not accept this client's credentials",
        KmipResultReason.InvalidMessage => "Invalid Message: the server could not read the request",
        KmipResultReason.OperationNotSupported => "Operation Not Supported by this server",
        KmipResultReason.MissingData => "Missing Data: the request lacks something the server needs",
        KmipResultReason.InvalidField => "Invalid Field: the server refuses a value in the request",
        KmipResultReason.FeatureNotSupported => "Feature Not Supported by this server",
        KmipResultReason.OperationCanceledByRequester => "Operation Canceled By Requester",
        KmipResultReason.CryptographicFailure => "Cryptographic Failure: the data do not decrypt under this key (wrong key, or altered ciphertext)",
        KmipResultReason.IllegalOperation => "Illegal Operation: the object's state does not allow it (not activated, revoked or destroyed)",
        KmipResultReason.PermissionDenied => "Permission Denied: this client's certificate does not own the object and was not granted its use",
        KmipResultReason.ObjectArchived => "Object Archived: recover it on the server first",
        KmipResultReason.IndexOutOfBounds => "Index Out Of Bounds",
        KmipResultReason.ApplicationNamespaceNotSupported => "Application Namespace Not Supported",
        KmipResultReason.KeyFormatTypeNotSupported => "Key Format Type Not Supported",
        KmipResultReason.KeyCompressionTypeNotSupported => "Key Compression Type Not Supported",
        KmipResultReason.EncodingOptionError => "Encoding Option Error",
        KmipResultReason.KeyValueNotPresent => "Key Value Not Present: the object holds no key material",
        KmipResultReason.AttestationRequired => "Attestation Required",
        KmipResultReason.AttestationFailed => "Attestation Failed",
        KmipResultReason.Sensitive => "Sensitive: the object may not be returned",
        KmipResultReason.NotExtractable => "Not Extractable",
        KmipResultReason.ObjectAlreadyExists => "Object Already Exists",
        KmipResultReason.GeneralFailure => "General Failure: the server gave no more precise reason",
        { } other => $"result reason 0x{(uint)other:X}",
    };
}
