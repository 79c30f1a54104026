using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace BlockSim.Storage.Volumes;

/// <summary>
/// The volume header (format version 1), little-endian, 4096 bytes, with a SHA-256 checksum; a primary
/// copy at offset 0 and a backup at 64 KiB. The data area starts at 1 MiB.
/// <code>
///    0  magic "BLKSIMVL"           8
///    8  format version u32         4
///   12  header size u32            4 (4096)
///   16  volume id                 16 (GUID)
///   32  capacity u64               8 (bytes of the data area)
///   40  encryption sector size u32 4 (512 or 4096)
///   44  data offset u64            8 (1 MiB)
///   52  cipher                    32 (ASCII, zero padded: "aes-xts-plain64")
///   84  key id                   128 (UTF-8, zero padded)
///  212  owner                    128 (UTF-8, zero padded)
///  340  wrapped key length u32     4
///  344  wrapped key              ... (at most 1024 bytes)
/// 4064  SHA-256 of bytes 0..4063  32
/// </code>
/// </summary>
public sealed record VolumeHeader(
    Guid VolumeId,
    long Capacity,
    int SectorSize,
    string KeyId,
    string Owner,
    byte[] WrappedKey)
{
    public const int Size = 4096;
    public const uint CurrentVersion = 1;
    public const long PrimaryOffset = 0;
    public const long BackupOffset = 64 * 1024;
    public const long DataOffset = 1024 * 1024;
    public const string Cipher = "aes-xts-plain64";
    public const int MaxWrappedKey = 1024;

    /// <summary>Bytes of the unwrapped XTS-AES-256 key (two AES-256 keys).</summary>
    public const int KeySize = 64;
    private const int FieldText = 128;
    private const int ChecksumAt = Size - 32;
    private static readonly byte[] s_magic = "BLKSIMVL"u8.ToArray();
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public byte[] Serialize()
    {
        if (WrappedKey.Length > MaxWrappedKey)
        {
            throw new ArgumentException($"The wrapped key is {WrappedKey.Length} bytes; at most {MaxWrappedKey} fit in the header.");
        }

        var bytes = new byte[Size];
        var span = bytes.AsSpan();
        s_magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], CurrentVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], Size);
        VolumeId.TryWriteBytes(span[16..]);
        BinaryPrimitives.WriteInt64LittleEndian(span[32..], Capacity);
        BinaryPrimitives.WriteInt32LittleEndian(span[40..], SectorSize);
        BinaryPrimitives.WriteInt64LittleEndian(span[44..], DataOffset);
        WriteText(span.Slice(52, 32), Cipher);
        WriteText(span.Slice(84, FieldText), KeyId);
        WriteText(span.Slice(212, FieldText), Owner);
        BinaryPrimitives.WriteInt32LittleEndian(span[340..], WrappedKey.Length);
        WrappedKey.CopyTo(span[344..]);
        SHA256.HashData(span[..ChecksumAt], span[ChecksumAt..]);
        return bytes;
    }

    /// <summary>Parses one copy; returns null with the reason when it is not a valid header.</summary>
    public static VolumeHeader? TryParse(ReadOnlySpan<byte> bytes, out string? problem)
    {
        problem = null;
        if (bytes.Length < Size || !bytes[..8].SequenceEqual(s_magic))
        {
            problem = "no BlockSim volume magic";
            return null;
        }

        Span<byte> checksum = stackalloc byte[32];
        SHA256.HashData(bytes[..ChecksumAt], checksum);
        if (!checksum.SequenceEqual(bytes.Slice(ChecksumAt, 32)))
        {
            problem = "checksum mismatch (damaged)";
            return null;
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (version != CurrentVersion)
        {
            problem = version > CurrentVersion
                ? $"format version {version} is newer than this blocksim understands ({CurrentVersion}); upgrade blocksim"
                : $"unknown format version {version}";
            return null;
        }

        var capacity = BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]);
        var sectorSize = BinaryPrimitives.ReadInt32LittleEndian(bytes[40..]);
        var dataOffset = BinaryPrimitives.ReadInt64LittleEndian(bytes[44..]);
        var cipher = ReadText(bytes.Slice(52, 32));
        var wrappedLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[340..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]) != Size || dataOffset != DataOffset || cipher != Cipher
            || sectorSize is not (512 or 4096) || capacity <= 0 || capacity % sectorSize != 0
            || wrappedLength < 0 || wrappedLength > MaxWrappedKey)
        {
            problem = "fields out of range";
            return null;
        }

        if (ReadText(bytes.Slice(84, FieldText)) is not { } keyId || ReadText(bytes.Slice(212, FieldText)) is not { } owner)
        {
            problem = "the key id or owner is not UTF-8 text";
            return null;
        }

        return new VolumeHeader(new Guid(bytes.Slice(16, 16)), capacity, sectorSize, keyId, owner, bytes.Slice(344, wrappedLength).ToArray());
    }

    private static void WriteText(Span<byte> field, string text)
    {
        var count = Encoding.UTF8.GetByteCount(text);
        if (count > field.Length)
        {
            throw new ArgumentException($"'{text}' is longer than the {field.Length} bytes the header keeps for it.");
        }

        Encoding.UTF8.GetBytes(text, field);
    }

    /// <summary>
    /// The text of a field, or null if it is not valid UTF-8: decoded leniently, each bad byte would become a
    /// three-byte replacement character, and the header could then no longer be written back (resize, rewrap).
    /// </summary>
    private static string? ReadText(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        try
        {
            return s_strictUtf8.GetString(end < 0 ? field : field[..end]);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
