namespace BlockSim.Kmip.Ttlv;

/// <summary>The KMIP 1.2 tags this client sends or reads (section 9.1.3.1), as three-byte values 0x42XXXX.</summary>
public static class Tag
{
    public const int Attribute = 0x420008;
    public const int AttributeName = 0x42000A;
    public const int AttributeValue = 0x42000B;
    public const int BatchCount = 0x42000D;
    public const int BatchItem = 0x42000F;
    public const int BlockCipherMode = 0x420011;
    public const int CompromiseOccurrenceDate = 0x420021;
    public const int CryptographicAlgorithm = 0x420028;
    public const int CryptographicLength = 0x42002A;
    public const int CryptographicParameters = 0x42002B;
    public const int CryptographicUsageMask = 0x42002C;
    public const int IvCounterNonce = 0x42003D;
    public const int MaximumResponseSize = 0x420050;
    public const int ObjectType = 0x420057;
    public const int Operation = 0x42005C;
    public const int PaddingMethod = 0x42005F;
    public const int ProtocolVersion = 0x420069;
    public const int ProtocolVersionMajor = 0x42006A;
    public const int ProtocolVersionMinor = 0x42006B;
    public const int QueryFunction = 0x420074;
    public const int RequestHeader = 0x420077;
    public const int RequestMessage = 0x420078;
    public const int RequestPayload = 0x420079;
    public const int ResponseHeader = 0x42007A;
    public const int ResponseMessage = 0x42007B;
    public const int ResponsePayload = 0x42007C;
    public const int ResultMessage = 0x42007D;
    public const int ResultReason = 0x42007E;
    public const int ResultStatus = 0x42007F;
    public const int RevocationMessage = 0x420080;
    public const int RevocationReason = 0x420081;
    public const int RevocationReasonCode = 0x420082;
    public const int ServerInformation = 0x420088;
    public const int State = 0x42008D;
    public const int TemplateAttribute = 0x420091;
    public const int TimeStamp = 0x420092;
    public const int UniqueBatchItemId = 0x420093;
    public const int UniqueIdentifier = 0x420094;
    public const int VendorIdentification = 0x42009D;
    public const int Data = 0x4200C2;
    public const int TagLength = 0x4200CE;
    public const int AuthenticatedEncryptionAdditionalData = 0x4200FE;
    public const int AuthenticatedEncryptionTag = 0x4200FF;

    /// <summary>A tag as the specification writes it, e.g. 0x420094.</summary>
    public static string Describe(int tag) => $"0x{tag:X6}";
}
