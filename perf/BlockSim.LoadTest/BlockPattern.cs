using System.Buffers.Binary;

namespace BlockSim.LoadTest;

/// <summary>
/// Recognisable block contents for verification: the block number and a version in the first 16 bytes,
/// then bytes generated from both, so a block from elsewhere, an older write or a torn write is told apart.
/// </summary>
public static class BlockPattern
{
    public static void Fill(Span<byte> block, long blockNumber, int version)
    {
        BinaryPrimitives.WriteInt64LittleEndian(block, blockNumber);
        BinaryPrimitives.WriteInt32LittleEndian(block[8..], version);
        BinaryPrimitives.WriteInt32LittleEndian(block[12..], ~version);
        var state = (ulong)blockNumber * 0x9E3779B97F4A7C15UL ^ (uint)version * 0xD1B54A32D192ED03UL | 1;
        for (var i = 16; i + 8 <= block.Length; i += 8)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            BinaryPrimitives.WriteUInt64LittleEndian(block[i..], state);
        }
    }

    /// <summary>Null when the block holds exactly version <paramref name="version"/> of block <paramref name="blockNumber"/>, else what is wrong.</summary>
    public static string? Check(ReadOnlySpan<byte> block, long blockNumber, int version, Span<byte> scratch)
    {
        Fill(scratch, blockNumber, version);
        if (block.SequenceEqual(scratch))
        {
            return null;
        }

        var foundBlock = BinaryPrimitives.ReadInt64LittleEndian(block);
        var foundVersion = BinaryPrimitives.ReadInt32LittleEndian(block[8..]);
        var firstDifference = block.CommonPrefixLength(scratch);
        return foundBlock == blockNumber && foundVersion == version
            ? $"block {blockNumber} version {version}: header right but bytes differ from offset {firstDifference} (torn or corrupted)"
            : $"block {blockNumber}: expected version {version}, found block {foundBlock} version {foundVersion}";
    }
}
