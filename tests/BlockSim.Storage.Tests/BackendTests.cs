using BlockSim.Storage.Devices;

namespace BlockSim.Storage.Tests;

public class BackendTests
{
    [Fact]
    public async Task Memory_device_is_sparse_and_can_be_far_larger_than_ram()
    {
        using var device = new MemoryBlockDevice(1L << 40); // 1 TiB
        await device.WriteAsync((1L << 40) - 4096, new byte[] { 1, 2, 3 });
        Assert.Equal(64 * 1024, device.AllocatedBytes);
        var back = new byte[3];
        await device.ReadAsync((1L << 40) - 4096, back);
        Assert.Equal(new byte[] { 1, 2, 3 }, back);
        await device.TrimAsync((1L << 40) - 65536, 65536);
        Assert.Equal(0, device.AllocatedBytes);
        await device.WriteZeroesAsync(0, 65536, mayDeallocate: false);
        Assert.Equal(64 * 1024, device.AllocatedBytes); // NO_HOLE keeps it allocated
    }

    [Fact]
    public async Task File_device_reports_holes_and_data_from_the_file_system()
    {
        using var dir = new TempDirectory();
        using var device = FileBlockDevice.OpenRaw(dir.File("raw.img"), 16 << 20);
        await device.WriteAsync(4 << 20, Fill(1 << 20, 0x5A));
        var extents = Allocation(device, 0, 16 << 20);
        Assert.Equal(new BlockExtent(4 << 20, Storage.Allocation.Hole), extents[0]);
        Assert.Equal(new BlockExtent(1 << 20, Storage.Allocation.Data), extents[1]);
        Assert.Equal(Storage.Allocation.Hole, extents[2].State);
        Assert.Equal(16L << 20, extents.Sum(e => e.Length));
    }

    [Fact]
    public async Task File_device_punches_holes_for_trim_and_zeroes_without_deallocating_when_asked()
    {
        using var dir = new TempDirectory();
        using var device = FileBlockDevice.OpenRaw(dir.File("raw.img"), 8 << 20);
        await device.WriteAsync(0, Fill(4 << 20, 0x77), fua: true);
        await device.TrimAsync(0, 1 << 20);
        await device.WriteZeroesAsync(1 << 20, 1 << 20, mayDeallocate: false);
        await device.FlushAsync();
        // The trimmed range is a hole. The NO_HOLE range keeps its blocks reserved (FALLOC_FL_ZERO_RANGE makes
        // them unwritten extents, which SEEK_DATA may report either way), so only its contents are checked.
        Assert.Equal(Storage.Allocation.Hole, Allocation(device, 0, 1 << 20)[0].State);
        Assert.Equal(Storage.Allocation.Data, Allocation(device, 2 << 20, 1 << 20)[0].State);
        var back = new byte[3 << 20];
        await device.ReadAsync(0, back);
        Assert.All(back.AsSpan(0, 2 << 20).ToArray(), b => Assert.Equal(0, b));
        Assert.All(back.AsSpan(2 << 20).ToArray(), b => Assert.Equal(0x77, b));
    }

    internal static byte[] Fill(int length, byte value)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, value);
        return bytes;
    }

    internal static BlockExtent[] Allocation(IBlockDevice device, long offset, long length)
    {
        var extents = new BlockExtent[64];
        return extents[..device.GetAllocation(offset, length, extents)];
    }
}
