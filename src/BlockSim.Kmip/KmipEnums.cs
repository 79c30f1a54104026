namespace BlockSim.Kmip;

// KMIP 1.2 enumerations (section 9.1.3.2), only the values this client sends or names.

public enum KmipOperation : uint
{
    Create = 0x01,
    GetAttributes = 0x0B,
    Activate = 0x12,
    Revoke = 0x13,
    Destroy = 0x14,
    Query = 0x18,
    Encrypt = 0x1F,
    Decrypt = 0x20,
}

public enum KmipResultStatus : uint
{
    Success = 0x00,
    OperationFailed = 0x01,
    OperationPending = 0x02,
    OperationUndone = 0x03,
}

/// <summary>A managed object's state (KMIP section 3.22).</summary>
public enum KmipState : uint
{
    PreActive = 0x01,
    Active = 0x02,
    Deactivated = 0x03,
    Compromised = 0x04,
    Destroyed = 0x05,
    DestroyedCompromised = 0x06,
}

public enum KmipBlockCipherMode : uint
{
    Cbc = 0x01,
    Gcm = 0x09,
}

public enum KmipPaddingMethod : uint
{
    None = 0x01,
    Pkcs5 = 0x03,
}

public enum KmipRevocationReason : uint
{
    Unspecified = 0x01,
    KeyCompromise = 0x02,
    CaCompromise = 0x03,
    AffiliationChanged = 0x04,
    Superseded = 0x05,
    CessationOfOperation = 0x06,
    PrivilegeWithdrawn = 0x07,
}

public enum KmipQueryFunction : uint
{
    QueryOperations = 0x01,
    QueryObjects = 0x02,
    QueryServerInformation = 0x03,
}

internal static class KmipValues
{
    public const uint ObjectTypeSymmetricKey = 0x02;
    public const uint AlgorithmAes = 0x03;
    public const int UsageEncrypt = 0x04;
    public const int UsageDecrypt = 0x08;
}
