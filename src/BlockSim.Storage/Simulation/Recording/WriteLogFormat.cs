namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// The .bslog layout, all integers little-endian.
/// <code>
/// header  (32 bytes)  magic "BSIMWLOG" | u16 version | u16 header length | u32 sector size | u64 capacity | u32 reserved (0) | u32 CRC-32C of the 28 bytes before it
/// record              u32 body length | u8 kind | body | u32 CRC-32C of length, kind and body
///   Write       1     u64 id | u64 offset | u8 flags (1 = FUA) | payload (the rest of the body)
///   Trim        2     u64 id | u64 offset | u64 length
///   WriteZeroes 3     u64 id | u64 offset | u64 length | u8 flags (2 = may deallocate)
///   Flush       4     u64 id
///   Mark        5     UTF-8 name
///   Completion  6     u64 id | u8 status (0 = succeeded, 1 = failed)
///   End         7     u64 number of records before it
/// </code>
/// Every record carries its own checksum so a damaged log is caught at the record where it breaks; the
/// End record, written when the writer is closed, tells a complete log from one whose tail was lost.
/// Request ids start at 1 and go up by one with each submission, in log order.
/// </summary>
internal static class WriteLogFormat
{
    public const int Version = 1;
    public const int HeaderSize = 32;
    public const int FrameHeadSize = 5;   // body length and kind
    public const int ChecksumSize = 4;
    public const int MaxMarkBytes = 1024;

    /// <summary>Larger than any request a client sends (NBD's is 32 MiB); a bound so a damaged length cannot make a reader allocate gigabytes.</summary>
    public const int MaxBodySize = 1 << 30;

    public const int IdOffsetLengthSize = 24;
    public const int WriteFixedSize = 17;        // id, offset, flags
    public const int WriteZeroesSize = 25;
    public const int FlushSize = 8;
    public const int CompletionSize = 9;
    public const int EndSize = 8;

    public const byte FlagFua = 1;
    public const byte FlagMayDeallocate = 2;
    public const byte StatusFailed = 1;

    public static ReadOnlySpan<byte> Magic => "BSIMWLOG"u8;
}
