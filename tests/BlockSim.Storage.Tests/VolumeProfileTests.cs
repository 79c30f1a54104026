using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Profiles;

namespace BlockSim.Storage.Tests;

/// <summary>Cloud volume profiles: the published figures for a size, and the pace a device keeps, on a clock of the test's own.</summary>
public class VolumeProfileTests
{
    private const long GiB = VolumeProfile.GiB;

    [Theory]
    [InlineData(100, 3000, 300.0, 128)]     // 3 IOPS per GiB, bursting to 3,000
    [InlineData(10, 3000, 100.0, 128)]      // at least 100
    [InlineData(500, 3000, 1500.0, 250)]    // past 170 GiB, 250 MiB/s
    [InlineData(2000, 6000, null, 250)]     // 3 per GiB above 3,000: no burst, no credits
    [InlineData(10000, 16000, null, 250)]   // at most 16,000
    public void Gp2_follows_its_size(long gib, double maxIops, double? baseline, double mibPerSecond)
    {
        var profile = VolumeProfile.For("aws-gp2", gib * GiB);

        Assert.Equal((maxIops, baseline, mibPerSecond, 256 * 1024), (profile.MaxIops!.Value, profile.BaselineIops, profile.MaxBytesPerSecond / VolumeProfile.MiB, profile.IoUnitBytes));
        Assert.Equal(5_400_000, profile.IopsCredits);
    }

    [Fact]
    public void Gp3_io2_st1_and_sc1_take_their_published_figures_and_refuse_what_they_do_not_allow()
    {
        var gp3 = VolumeProfile.For("aws-gp3", 100 * GiB);
        Assert.Equal((3000.0, 125.0), (gp3.MaxIops!.Value, gp3.MaxBytesPerSecond / VolumeProfile.MiB));
        Assert.Equal(16000.0, VolumeProfile.For("aws-gp3", 100 * GiB, iops: 16000, throughput: 1000L << 20).MaxIops);
        Assert.Contains("3000 to 16000", Assert.Throws<ArgumentException>(() => VolumeProfile.For("aws-gp3", 100 * GiB, iops: 20000)).Message);
        Assert.Contains("500 IOPS per GiB", Assert.Throws<ArgumentException>(() => VolumeProfile.For("aws-gp3", 8 * GiB, iops: 5000)).Message);
        Assert.Contains("0.25 MiB/s per provisioned IOPS", Assert.Throws<ArgumentException>(() => VolumeProfile.For("aws-gp3", 100 * GiB, throughput: 1000L << 20)).Message);

        Assert.Contains("give its iops", Assert.Throws<ArgumentException>(() => VolumeProfile.For("aws-io2", 100 * GiB)).Message);
        Assert.Equal(20000.0, VolumeProfile.For("aws-io2", 100 * GiB, iops: 20000).MaxIops);

        var st1 = VolumeProfile.For("aws-st1", 2 * VolumeProfile.TiB);
        Assert.Equal((80.0, 500.0, 500.0, 1 << 20), (st1.BaselineBytesPerSecond!.Value / VolumeProfile.MiB, st1.MaxBytesPerSecond / VolumeProfile.MiB, st1.MaxIops!.Value, st1.IoUnitBytes));
        Assert.Equal(2.0 * VolumeProfile.TiB, st1.ThroughputCredits);
        var sc1 = VolumeProfile.For("aws-sc1", VolumeProfile.TiB);
        Assert.Equal((12.0, 80.0), (sc1.BaselineBytesPerSecond!.Value / VolumeProfile.MiB, sc1.MaxBytesPerSecond / VolumeProfile.MiB));

        Assert.Contains("not provisioned", Assert.Throws<ArgumentException>(() => VolumeProfile.For("aws-gp2", 100 * GiB, iops: 5000)).Message);
        Assert.Contains("aws-gp2, aws-gp3", Assert.Throws<ArgumentException>(() => VolumeProfile.For("aws-gp9", 100 * GiB)).Message);
    }

    [Fact]
    public void A_gp2_volume_bursts_at_3000_iops_until_its_credits_are_spent_then_runs_at_its_baseline()
    {
        // 100 GiB: 300 IOPS baseline. 540,000 credits last 540000 / (3000 - 300) = 200 s at 3,000 IOPS.
        var clock = 0.0;
        using var device = new ProfileDevice(new MemoryBlockDevice(100 * GiB), VolumeProfile.For("aws-gp2", 100 * GiB), initialCredits: 540_000, seconds: () => clock);
        var perSecond = new int[300];
        while (clock < 300)
        {
            clock += device.Cost(4096).TotalSeconds; // one request after another, each waiting what it is told to
            if (clock < 300)
            {
                perSecond[(int)clock]++;
            }
        }

        Assert.InRange(perSecond[2..198].Average(), 2970, 3030);
        Assert.InRange(perSecond[205..].Average(), 297, 303);
        Assert.InRange(Array.FindIndex(perSecond, 1, n => n < 1000), 199, 201); // when the burst ends
        Assert.InRange(device.IopsCreditBalance!.Value, -1, 1);                  // spent, and kept spent at the baseline
    }

    [Fact]
    public void A_large_request_counts_as_several_io_units_and_throughput_caps_it()
    {
        var clock = 0.0;
        using var device = new ProfileDevice(new MemoryBlockDevice(100 * GiB), VolumeProfile.For("aws-gp3", 100 * GiB), seconds: () => clock);
        var requests = 0;
        while (clock < 100)
        {
            clock += device.Cost(1 << 20).TotalSeconds; // 1 MiB: four 256 KiB units
            requests++;
        }

        Assert.InRange(requests / 100.0, 124, 127); // 125 MiB/s, not 3,000 / 4 = 750 a second
    }

    [Fact]
    public void An_st1_volume_bursts_on_throughput_credits_then_settles_at_its_baseline()
    {
        var clock = 0.0;
        const long Size = 2 * VolumeProfile.TiB; // 80 MiB/s baseline, 500 MiB/s burst
        using var device = new ProfileDevice(new MemoryBlockDevice(1 << 20), VolumeProfile.For("aws-st1", Size), initialCredits: 42.0 * (1 << 30), seconds: () => clock);
        var bytes = new double[200];
        while (clock < 200)
        {
            clock += device.Cost(1 << 20).TotalSeconds;
            if (clock < 200)
            {
                bytes[(int)clock] += 1 << 20;
            }
        }

        // 42 GiB at 500 - 80 MiB/s: about 102 s of burst.
        Assert.InRange(bytes[2..100].Average() / VolumeProfile.MiB, 495, 505);
        Assert.InRange(bytes[110..].Average() / VolumeProfile.MiB, 79, 81);
    }
}
