namespace BlockSim.Nbd.Protocol;

// Values from the NBD protocol document (NetworkBlockDevice/nbd doc/proto.md). Note that the reference
// nbd.h disagrees on NBD_REPLY_TYPE_BLOCK_STATUS (3 there); the protocol and every real client use 5.

/// <summary>Magic numbers on the wire.</summary>
public static class NbdMagic
{
    public const ulong Init = 0x4e42444d41474943;          // "NBDMAGIC"
    public const ulong IHaveOpt = 0x49484156454F5054;      // "IHAVEOPT"
    public const ulong OptionReply = 0x0003e889045565a9;
    public const uint Request = 0x25609513;
    public const uint SimpleReply = 0x67446698;
    public const uint StructuredReply = 0x668e33ef;
}

/// <summary>Handshake flags the server sends (16 bits).</summary>
[Flags]
public enum NbdHandshakeFlags : ushort
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}

/// <summary>Flags the client sends back (32 bits).</summary>
[Flags]
public enum NbdClientFlags : uint
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}

public enum NbdOption : uint
{
    ExportName = 1,
    Abort = 2,
    List = 3,
    StartTls = 5,
    Info = 6,
    Go = 7,
    StructuredReply = 8,
    ListMetaContext = 9,
    SetMetaContext = 10,
    ExtendedHeaders = 11,
}

public enum NbdOptionReplyType : uint
{
    Ack = 1,
    Server = 2,
    Info = 3,
    MetaContext = 4,
    ErrorUnsupported = 0x80000000 + 1,
    ErrorPolicy = 0x80000000 + 2,
    ErrorInvalid = 0x80000000 + 3,
    ErrorPlatform = 0x80000000 + 4,
    ErrorTlsRequired = 0x80000000 + 5,
    ErrorUnknown = 0x80000000 + 6,
    ErrorShutdown = 0x80000000 + 7,
    ErrorBlockSizeRequired = 0x80000000 + 8,
    ErrorTooBig = 0x80000000 + 9,
}

public enum NbdInfoType : ushort
{
    Export = 0,
    Name = 1,
    Description = 2,
    BlockSize = 3,
}

/// <summary>Transmission flags (16 bits) sent with the export size.</summary>
[Flags]
public enum NbdTransmissionFlags : ushort
{
    None = 0,
    HasFlags = 1 << 0,
    ReadOnly = 1 << 1,
    SendFlush = 1 << 2,
    SendFua = 1 << 3,
    Rotational = 1 << 4,
    SendTrim = 1 << 5,
    SendWriteZeroes = 1 << 6,
    SendDf = 1 << 7,
    CanMultiConn = 1 << 8,
    SendResize = 1 << 9,
    SendCache = 1 << 10,
    SendFastZero = 1 << 11,
}

public enum NbdCommand : ushort
{
    Read = 0,
    Write = 1,
    Disconnect = 2,
    Flush = 3,
    Trim = 4,
    Cache = 5,
    WriteZeroes = 6,
    BlockStatus = 7,
    Resize = 8,
}

[Flags]
public enum NbdCommandFlags : ushort
{
    None = 0,
    Fua = 1 << 0,
    NoHole = 1 << 1,
    DontFragment = 1 << 2,
    ReqOne = 1 << 3,
    FastZero = 1 << 4,
}

public enum NbdReplyType : ushort
{
    None = 0,
    OffsetData = 1,
    OffsetHole = 2,
    BlockStatus = 5,
    Error = 0x8001,
    ErrorOffset = 0x8002,
}

/// <summary>Structured reply chunk flags.</summary>
[Flags]
public enum NbdReplyFlags : ushort
{
    None = 0,
    Done = 1 << 0,
}

/// <summary>Error values on the wire (Linux errno numbering, as the protocol fixes them).</summary>
public enum NbdError : uint
{
    None = 0,
    NotPermitted = 1,       // EPERM
    IO = 5,                 // EIO
    NoMemory = 12,          // ENOMEM
    Invalid = 22,           // EINVAL
    NoSpace = 28,           // ENOSPC
    Overflow = 75,          // EOVERFLOW
    NotSupported = 95,      // ENOTSUP
    Shutdown = 108,         // ESHUTDOWN
}

/// <summary>Block status flags of the base:allocation context.</summary>
[Flags]
public enum NbdAllocationFlags : uint
{
    Data = 0,
    Hole = 1 << 0,
    Zero = 1 << 1,
}

public static class NbdLimits
{
    /// <summary>The largest READ or WRITE payload every client may send without negotiating block sizes.</summary>
    public const int MaxPayload = 32 * 1024 * 1024;

    /// <summary>Longest name or other string the protocol allows.</summary>
    public const int MaxString = 4096;

    public const string AllocationContext = "base:allocation";
}
