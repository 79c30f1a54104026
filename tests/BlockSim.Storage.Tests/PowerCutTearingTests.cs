using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation;

namespace BlockSim.Storage.Tests;

/// <summary>What a power cut leaves, by tearing granularity and survival, from the versions written since the last flush.</summary>
public class PowerCutTearingTests
{
    private const int Sector = 512;

    [Theory]
    [InlineData(PowerCutTearing.None)]     // a write survives whole or not at all
    [InlineData(PowerCutTearing.Block4K)]  // each 4 KiB piece on its own (8 sectors of 512)
    public async Task Pieces_of_the_chosen_size_survive_whole_or_not_at_all(PowerCutTearing tearing)
    {
        var (disk, cache) = Cache();
        for (var write = 0; write < 32; write++)
        {
            await cache.WriteAsync(write * 16L * Sector, Fill(16 * Sector, (byte)(write + 1))); // 8 KiB, 4 KiB-aligned
        }

        var result = cache.PowerCut(new PowerCutOptions(0.5, tearing, Seed: 3));
        var image = new byte[32 * 16 * Sector];
        await disk.ReadAsync(0, image);
        var survivedPieces = 0;
        var lostPieces = 0;
        for (var write = 0; write < 32; write++)
        {
            var pieceBytes = 16 * Sector / (tearing == PowerCutTearing.None ? 1 : 2);
            for (var piece = 0; piece < 16 * Sector / pieceBytes; piece++)
            {
                var bytes = image.AsSpan((write * 16 * Sector) + (piece * pieceBytes), pieceBytes);
                Assert.False(bytes.ContainsAnyExcept(bytes[0]), $"write {write} piece {piece} is torn inside");
                Assert.Contains(bytes[0], new[] { (byte)0, (byte)(write + 1) });
                _ = bytes[0] == 0 ? lostPieces++ : survivedPieces++;
            }
        }

        Assert.True(survivedPieces > 0 && lostPieces > 0, $"{survivedPieces} pieces survived, {lostPieces} lost");
        if (tearing == PowerCutTearing.None)
        {
            Assert.Equal(0, result.TornWrites);
        }
        else
        {
            Assert.True(result.TornWrites > 0, "with tearing on, some write survives only in part");
        }
    }

    [Fact]
    public async Task Sector_tearing_leaves_some_multi_sector_write_in_part()
    {
        var (disk, cache) = Cache();
        await cache.WriteAsync(0, Fill(64 * Sector, 9));
        var result = cache.PowerCut(new PowerCutOptions(0.5, PowerCutTearing.Sector, Seed: 1));
        Assert.Equal(1, result.TornWrites);
        Assert.Equal(64, result.LostSectors + result.SurvivingSectors);
        var image = new byte[64 * Sector];
        await disk.ReadAsync(0, image);
        Assert.Equal(result.SurvivingSectors * Sector, image.Count(b => b == 9));
    }

    [Fact]
    public async Task A_sector_written_twice_since_the_flush_may_be_left_with_either_version_or_the_old_one()
    {
        var outcomes = new HashSet<byte>();
        for (var seed = 0; seed < 64; seed++)
        {
            var (disk, cache) = Cache();
            await cache.WriteAsync(0, Fill(Sector, 1));
            await cache.FlushAsync();
            await cache.WriteAsync(0, Fill(Sector, 2));
            await cache.WriteAsync(0, Fill(Sector, 3));
            cache.PowerCut(new PowerCutOptions(0.5, PowerCutTearing.Sector, seed));
            var back = new byte[Sector];
            await disk.ReadAsync(0, back);
            outcomes.Add(back[0]);
        }

        Assert.Equal(new byte[] { 1, 2, 3 }, outcomes.Order().ToArray());
    }

    [Fact]
    public async Task The_same_seed_leaves_the_same_state()
    {
        var images = new List<byte[]>();
        foreach (var run in new[] { 1, 2 })
        {
            var (disk, cache) = Cache();
            for (var write = 0; write < 20; write++)
            {
                await cache.WriteAsync(write * 4L * Sector, Fill(4 * Sector, (byte)(write + 1)));
            }

            cache.PowerCut(new PowerCutOptions(0.5, PowerCutTearing.Sector, Seed: 77));
            var image = new byte[80 * Sector];
            await disk.ReadAsync(0, image);
            images.Add(image);
        }

        Assert.Equal(images[0], images[1]);
    }

    private static (MemoryBlockDevice Disk, VolatileCacheDevice Cache) Cache()
    {
        var disk = new MemoryBlockDevice(1 << 20);
        return (disk, new VolatileCacheDevice(disk));
    }

    private static byte[] Fill(int length, byte value) => Enumerable.Repeat(value, length).ToArray();
}
