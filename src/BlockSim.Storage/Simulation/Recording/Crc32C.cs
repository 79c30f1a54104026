using System.Buffers.Binary;
using System.Numerics;

namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// CRC-32C (Castagnoli), as iSCSI, ext4 and btrfs use it. System.IO.Hashing only has CRC-32 (IEEE), and it
/// is not a package of this solution; <see cref="BitOperations.Crc32C(uint, ulong)"/> is in the base library,
/// uses the CPU's instruction where there is one and a table otherwise.
/// </summary>
internal static class Crc32C
{
    public const uint Initial = 0xFFFF_FFFF;

    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(Initial, data));

    /// <summary>Continues a running CRC (start from <see cref="Initial"/>, end with <see cref="Finish"/>).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
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

    public static uint Finish(uint crc) => ~crc;
}
