using BlockSim.Storage.Devices;

namespace BlockSim.Storage.Tests;

/// <summary>The device crash states are built on: changes kept over a base that is never written.</summary>
public class CopyOnWriteDeviceTests
{
    private const int Sector = 512;

    [Fact]
    public async Task Writes_read_back_over_the_base_and_the_base_is_never_changed()
    {
        var (baseDevice, original) = await Base(16);
        using var overlay = new CopyOnWriteDevice(baseDevice);

        await overlay.WriteAsync(3 * Sector, Filled(2 * Sector, 0xAA));
        await overlay.WriteAsync((8 * Sector) + 100, Filled(50, 0xBB)); // inside one sector: the rest from the base

        var expected = original.ToArray();
        expected.AsSpan(3 * Sector, 2 * Sector).Fill(0xAA);
        expected.AsSpan((8 * Sector) + 100, 50).Fill(0xBB);
        Assert.Equal(expected, await All(overlay));
        Assert.Equal(original, await All(baseDevice));
        Assert.Equal(3, overlay.ChangedSectors);
    }

    [Fact]
    public async Task Zeroed_and_trimmed_ranges_read_as_zeros_over_data_in_the_base()
    {
        var (baseDevice, original) = await Base(8);
        using var overlay = new CopyOnWriteDevice(baseDevice);

        await overlay.WriteZeroesAsync(Sector + 10, 20, mayDeallocate: false);
        await overlay.TrimAsync(4 * Sector, 2 * Sector);

        var expected = original.ToArray();
        expected.AsSpan(Sector + 10, 20).Clear();
        expected.AsSpan(4 * Sector, 2 * Sector).Clear();
        Assert.Equal(expected, await All(overlay));
    }

    [Fact]
    public async Task A_sealed_state_refuses_writes_and_reset_brings_back_the_base()
    {
        var (baseDevice, original) = await Base(4);
        using var overlay = new CopyOnWriteDevice(baseDevice);
        await overlay.WriteAsync(0, Filled(Sector, 1));

        overlay.Seal();
        Assert.True(overlay.IsReadOnly);
        await Assert.ThrowsAsync<IOException>(async () => await overlay.WriteAsync(Sector, Filled(Sector, 2)));
        await Assert.ThrowsAsync<IOException>(async () => await overlay.TrimAsync(0, Sector));

        overlay.Reset();
        Assert.False(overlay.IsReadOnly);
        Assert.Equal(original, await All(overlay));
    }

    private static async Task<(MemoryBlockDevice Device, byte[] Content)> Base(int sectors)
    {
        var device = new MemoryBlockDevice(sectors * Sector);
        var content = Enumerable.Range(0, sectors * Sector).Select(i => (byte)((i * 31) + 7)).ToArray();
        await device.WriteAsync(0, content);
        return (device, content);
    }

    private static async Task<byte[]> All(IBlockDevice device)
    {
        var all = new byte[device.Capacity];
        await device.ReadAsync(0, all);
        return all;
    }

    private static byte[] Filled(int length, byte value) => Enumerable.Repeat(value, length).ToArray();
}
