using System.Buffers.Binary;
using System.Numerics;

namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// CRC-32C (Castagnoli), as iSCSI, ext4 and btrfs use it. System.IO.Hashing only has CRC-32 (IEEE), and it
/// is not a package of this solution; <see cref="BitOperations.Crc32C(uint, ulong)"/> is in the base library,
/// uses the CPU's instruction where there is one and a table otherwise.
/// <para>
/// The instruction takes three cycles before its result can feed the next, but can start one every cycle, so
/// a long buffer is taken <see cref="Lane"/> bytes at a time in three lanes at once, and the lanes' CRCs are
/// joined: a CRC is linear, so the CRC of A then B is the CRC of A moved past |B| zero bytes, xor the CRC of
/// B begun from zero; moving a CRC past <see cref="Lane"/> zeros is four lookups in <see cref="s_pastLane"/>.
/// A log of 4 KiB writes checksums every byte it is given, so this is on every write's path.
/// </para>
/// </summary>
internal static class Crc32C
{
    public const uint Initial = 0xFFFF_FFFF;

    /// <summary>A third of a 4 KiB payload, rounded down to whole 8-byte steps.</summary>
    internal const int Lane = 1360;

    /// <summary>For byte k of a CRC, what that byte alone becomes after <see cref="Lane"/> zero bytes: [k * 256 + value].</summary>
    private static readonly uint[] s_pastLane = PastZerosTable(Lane);

    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(Initial, data));

    /// <summary>Continues a running CRC (start from <see cref="Initial"/>, end with <see cref="Finish"/>).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 3 * Lane)
        {
            crc = UpdateThreeLanes(crc, data[..(3 * Lane)]);
            data = data[(3 * Lane)..];
        }

        return UpdateSerial(crc, data);
    }

    public static uint Finish(uint crc) => ~crc;

    /// <summary>The CRC one instruction after another: the reference the lanes are tested against.</summary>
    internal static uint UpdateSerial(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }

    private static uint UpdateThreeLanes(uint crc, ReadOnlySpan<byte> stride)
    {
        var first = stride[..Lane];
        var second = stride.Slice(Lane, Lane);
        var third = stride.Slice(2 * Lane, Lane);
        uint crc1 = 0, crc2 = 0;
        for (var i = 0; i < Lane; i += sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(first[i..]));
            crc1 = BitOperations.Crc32C(crc1, BinaryPrimitives.ReadUInt64LittleEndian(second[i..]));
            crc2 = BitOperations.Crc32C(crc2, BinaryPrimitives.ReadUInt64LittleEndian(third[i..]));
        }

        return PastLane(PastLane(crc) ^ crc1) ^ crc2;
    }

    private static uint PastLane(uint crc) =>
        s_pastLane[crc & 0xFF] ^ s_pastLane[256 + ((crc >> 8) & 0xFF)] ^ s_pastLane[512 + ((crc >> 16) & 0xFF)] ^ s_pastLane[768 + (crc >> 24)];

    private static uint[] PastZerosTable(int zeros)
    {
        Span<byte> zeroBytes = stackalloc byte[zeros];
        zeroBytes.Clear();
        var table = new uint[4 * 256];
        for (var k = 0; k < 4; k++)
        {
            for (uint value = 0; value < 256; value++)
            {
                table[(k * 256) + (int)value] = UpdateSerial(value << (8 * k), zeroBytes);
            }
        }

        return table;
    }
}
