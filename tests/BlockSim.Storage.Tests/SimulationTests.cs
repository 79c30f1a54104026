using System.Diagnostics;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation;

namespace BlockSim.Storage.Tests;

public class SimulationTests
{
    [Fact]
    public async Task Latency_delays_every_request()
    {
        using var device = new LatencyDevice(new MemoryBlockDevice(1 << 20), TimeSpan.FromMilliseconds(40));
        var watch = Stopwatch.StartNew();
        await device.ReadAsync(0, new byte[512]);
        await device.WriteAsync(0, new byte[512]);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(75), $"two requests took {watch.Elapsed}");
    }

    [Fact]
    public void Latency_jitter_stays_within_its_bounds()
    {
        var device = new LatencyDevice(new MemoryBlockDevice(1 << 20), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(5), seed: 3);
        var samples = Enumerable.Range(0, 1000).Select(_ => device.NextDelay().TotalMilliseconds).ToArray();
        Assert.All(samples, s => Assert.InRange(s, 5, 15));
        Assert.True(samples.Max() - samples.Min() > 8); // it does vary
    }

    [Fact]
    public async Task Faults_hit_only_the_configured_range_and_kind()
    {
        var options = new FaultOptions { WriteProbability = 1, Ranges = [(1 << 20, 2 << 20)] };
        using var device = new FaultInjectionDevice(new MemoryBlockDevice(4 << 20), options);
        await device.WriteAsync(0, new byte[4096]);
        await device.ReadAsync(1 << 20, new byte[4096]);
        var e = await Assert.ThrowsAsync<SimulatedIOException>(() => device.WriteAsync((1 << 20) + 100, new byte[10]).AsTask());
        Assert.Contains("simulated write error", e.Message);
        Assert.Equal(1, device.InjectedFaults);
    }

    [Fact]
    public async Task A_fault_probability_fails_about_that_share_of_requests()
    {
        using var device = new FaultInjectionDevice(new MemoryBlockDevice(1 << 20), new FaultOptions { ReadProbability = 0.3, Seed = 5 });
        var failures = 0;
        for (var i = 0; i < 1000; i++)
        {
            try
            {
                await device.ReadAsync(0, new byte[16]);
            }
            catch (IOException)
            {
                failures++;
            }
        }

        Assert.InRange(failures, 240, 360);
    }

    [Fact]
    public async Task Throttling_holds_sustained_iops_to_the_limit()
    {
        // 50 IOPS with a one-second burst: 100 requests need at least about one more second.
        using var device = new ThrottleDevice(new MemoryBlockDevice(1 << 20), bytesPerSecond: null, iops: 50);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 100; i++)
        {
            await device.ReadAsync(0, new byte[512]);
        }

        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"100 requests took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_power_cut_loses_unflushed_writes_and_keeps_flushed_and_fua_ones()
    {
        var disk = new MemoryBlockDevice(1 << 20);
        using var cache = new VolatileCacheDevice(disk);
        await cache.WriteAsync(0, BackendTests.Fill(512, 1));
        await cache.FlushAsync();
        await cache.WriteAsync(512, BackendTests.Fill(512, 2));
        await cache.WriteAsync(1024, BackendTests.Fill(512, 3), fua: true);
        var before = new byte[1536];
        await cache.ReadAsync(0, before);
        Assert.Equal(2, before[512]); // acknowledged and visible before the cut
        Assert.Equal(1, cache.PowerCut());
        var after = new byte[1536];
        await cache.ReadAsync(0, after);
        Assert.Equal(1, after[0]);
        Assert.Equal(0, after[512]);
        Assert.Equal(3, after[1024]);
    }

    [Theory]
    [InlineData(0.0, 11)]
    [InlineData(0.5, 12)]
    public async Task After_random_schedules_and_a_power_cut_every_sector_is_one_whole_version(double survival, int seed)
    {
        const int Sectors = 64;
        for (var schedule = 0; schedule < 25; schedule++)
        {
            var random = new Random((seed * 1000) + schedule);
            var disk = new MemoryBlockDevice(Sectors * 512);
            using var cache = new VolatileCacheDevice(disk, survival, seed: schedule);

            // Model: per sector, the durable version and every version written since.
            var durable = new byte[Sectors];
            var since = Enumerable.Range(0, Sectors).Select(_ => new List<byte>()).ToArray();
            byte version = 0;
            for (var op = 0; op < 60; op++)
            {
                if (random.Next(8) == 0)
                {
                    await cache.FlushAsync();
                    for (var s = 0; s < Sectors; s++)
                    {
                        if (since[s].Count > 0)
                        {
                            durable[s] = since[s][^1];
                            since[s].Clear();
                        }
                    }

                    continue;
                }

                var first = random.Next(Sectors);
                var count = Math.Min(Sectors - first, random.Next(1, 5));
                var fua = random.Next(5) == 0;
                version++;
                await cache.WriteAsync(first * 512L, BackendTests.Fill(count * 512, version), fua);
                for (var s = first; s < first + count; s++)
                {
                    if (fua)
                    {
                        durable[s] = version;
                        since[s].Clear();
                    }
                    else
                    {
                        since[s].Add(version);
                    }
                }
            }

            cache.PowerCut();
            var image = new byte[Sectors * 512];
            await disk.ReadAsync(0, image);
            for (var s = 0; s < Sectors; s++)
            {
                var sector = image.AsSpan(s * 512, 512);
                var value = sector[0];
                Assert.False(sector.ContainsAnyExcept(value), $"schedule {schedule}: sector {s} is torn");
                var allowed = survival == 0 ? [durable[s]] : since[s].Append(durable[s]).ToArray();
                Assert.Contains(value, allowed);
            }
        }
    }

    [Fact]
    public void Only_layers_that_wait_on_timers_say_they_do_not_complete_synchronously()
    {
        // The NBD server runs requests on a connection's own thread, one at a time, only when this says
        // true; a latency or throttle layer must keep its requests overlapping, wherever it sits.
        using var memory = new MemoryBlockDevice(1 << 20);
        Assert.True(memory.CompletesSynchronously);
        Assert.True(new FaultInjectionDevice(memory, new FaultOptions()).CompletesSynchronously);
        Assert.True(new VolatileCacheDevice(memory).CompletesSynchronously);
        Assert.False(new LatencyDevice(memory, TimeSpan.FromMilliseconds(1)).CompletesSynchronously);
        Assert.False(new ThrottleDevice(memory, bytesPerSecond: null, iops: 100).CompletesSynchronously);
        Assert.False(new FaultInjectionDevice(new LatencyDevice(memory, TimeSpan.FromMilliseconds(1)), new FaultOptions()).CompletesSynchronously);

        var path = Path.GetTempFileName();
        try
        {
            using var file = FileBlockDevice.OpenRaw(path, 1 << 20);
            Assert.True(file.CompletesSynchronously);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
