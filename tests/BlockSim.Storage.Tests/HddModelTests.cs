using System.Diagnostics;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Latency;

namespace BlockSim.Storage.Tests;

/// <summary>The spinning disk: seeks by distance, a rotation's wait for random requests, none for sequential ones.</summary>
public class HddModelTests
{
    private const long Capacity = 1L << 30;

    [Fact]
    public void Random_requests_average_a_seek_and_half_a_rotation_and_sequential_ones_only_their_transfer()
    {
        var geometry = HddGeometry.Default;
        using var disk = new HddDevice(new MemoryBlockDevice(Capacity), geometry, seed: 4);
        var random = new Random(8);
        long now = 0;
        for (var i = 0; i < 20_000; i++)
        {
            now = disk.Schedule(now, random.NextInt64(Capacity / 4096) * 4096, 4096);
        }

        var perRequest = now / (double)Stopwatch.Frequency / 20_000;
        Assert.Equal(1 / geometry.RandomIops, perRequest, 0.02 * perRequest); // 8.5 ms + 4.17 ms
        Assert.InRange(geometry.RandomIops, 78, 79);

        var start = now;
        for (var i = 0; i < 100; i++)
        {
            now = disk.Schedule(now, (i + 1) * 65536L, 65536); // each where the last ended (the first seeks there)
        }

        var sequential = (now - start) / (double)Stopwatch.Frequency;
        Assert.InRange(sequential, 99 * 65536 / geometry.BytesPerSecond, (99 * 65536 / geometry.BytesPerSecond) + geometry.FullStrokeSeconds + geometry.RotationSeconds + (65536 / geometry.BytesPerSecond));
    }

    [Fact]
    public void Requests_queue_behind_the_one_arm()
    {
        using var disk = new HddDevice(new MemoryBlockDevice(Capacity), HddGeometry.Default, seed: 1);
        var first = disk.Schedule(0, Capacity / 2, 4096);
        var second = disk.Schedule(0, 0, 4096); // arrived at the same time: waits for the first

        Assert.True(second > first);
        Assert.True(disk.IsRotational);
    }

    [Theory]
    [InlineData("rpm=7200,seek=4ms,track=0.5ms,rate=200M", 7200, 4e-3)]
    [InlineData("rpm=15000", 15000, 8.5e-3)]
    public void A_geometry_is_read_from_its_datasheet_figures(string text, int rpm, double seek)
    {
        var geometry = HddGeometry.Parse(text);
        Assert.Equal((rpm, seek), (geometry.Rpm, geometry.AverageSeekSeconds));
    }

    [Theory]
    [InlineData("rpm=99", "rpm=99 is not one of")]
    [InlineData("seek=8.5", "seek=8.5 is not one of")]
    [InlineData("heads=4", "heads=4 is not one of")]
    [InlineData("seek=1ms,track=2ms", "track-to-track seek is longer")]
    public void A_geometry_that_is_not_one_is_refused(string text, string why)
    {
        Assert.Contains(why, Assert.Throws<FormatException>(() => HddGeometry.Parse(text)).Message);
    }
}
