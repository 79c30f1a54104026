using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Latency;

namespace BlockSim.Storage.Tests;

/// <summary>The SSD model: greedy collection's write amplification against its analytic value, TRIM's relief, and the geometry.</summary>
public class SsdModelTests
{
    [Theory]
    [InlineData(0.07)]
    [InlineData(0.28)]
    public void Random_writes_settle_at_the_write_amplification_greedy_collection_predicts(double overProvisioning)
    {
        var flash = new FlashTranslationLayer(65536, 256, overProvisioning);
        var measured = SteadyStateWriteAmplification(flash, pages: 65536, random: new Random(1));

        var predicted = FlashTranslationLayer.GreedyWriteAmplification(overProvisioning); // 7.82 and 2.48
        Assert.InRange(measured, predicted * 0.85, predicted * 1.15);
    }

    [Fact]
    public void The_analytic_value_is_the_published_one()
    {
        // Desnoyers (2012), greedy, uniform random: about 2.5 at 28% spare, rising steeply as the spare shrinks.
        Assert.InRange(FlashTranslationLayer.GreedyWriteAmplification(0.28), 2.4, 2.6);
        Assert.True(FlashTranslationLayer.GreedyWriteAmplification(0.07) > 3 * FlashTranslationLayer.GreedyWriteAmplification(0.28));
    }

    [Fact]
    public void Writing_each_page_once_moves_nothing_and_trim_lowers_what_random_writes_cost()
    {
        var flash = new FlashTranslationLayer(65536, 256, 0.07);
        for (var page = 0; page < 65536; page++)
        {
            flash.Write(page);
        }

        Assert.Equal(1.0, flash.WriteAmplification);

        var untrimmed = SteadyStateWriteAmplification(new FlashTranslationLayer(65536, 256, 0.07), pages: 32768, random: new Random(2), fill: 65536);
        var trimmed = new FlashTranslationLayer(65536, 256, 0.07);
        for (var page = 0; page < 65536; page++)
        {
            trimmed.Write(page);
        }

        for (var page = 32768; page < 65536; page++)
        {
            trimmed.Trim(page); // fstrim of the half no longer used
        }

        var withTrim = SteadyStateWriteAmplification(trimmed, pages: 32768, random: new Random(2), fill: 0);
        Assert.True(withTrim < untrimmed / 2, $"with TRIM {withTrim:0.00}, without {untrimmed:0.00}");
    }

    [Fact]
    public async Task A_write_costs_its_programs_and_the_collectors_work_and_the_data_is_the_device_belows()
    {
        using var ssd = new SsdDevice(new MemoryBlockDevice(1 << 20), SsdGeometry.Parse("op=10%,page=4K,block=16K,program=100us,read=50us,erase=1ms"));
        Assert.Equal(2 * 100e-6, ssd.Program(0, 8192), 1e-9); // two pages, nothing to collect yet

        var data = new byte[4096];
        data.AsSpan().Fill(7);
        await ssd.WriteAsync(4096, data);
        var back = new byte[4096];
        await ssd.ReadAsync(4096, back);
        Assert.Equal(data, back);
    }

    [Theory]
    [InlineData("op=0.5%", "op=0.5% is not one of")]
    [InlineData("page=3K", "page=3K is not one of")]
    [InlineData("page=64K,block=64K", "at least two pages")]
    [InlineData("erase=5s", "erase=5s is not one of")]
    public void A_geometry_that_is_not_one_is_refused(string text, string why)
    {
        Assert.Contains(why, Assert.Throws<FormatException>(() => SsdGeometry.Parse(text)).Message);
    }

    /// <summary>Fills the drive, writes 4 drives' worth at random to warm up, then measures over 10 more.</summary>
    private static double SteadyStateWriteAmplification(FlashTranslationLayer flash, int pages, Random random, int? fill = null)
    {
        for (var page = 0; page < (fill ?? pages); page++)
        {
            flash.Write(page);
        }

        for (var i = 0; i < pages * 4; i++)
        {
            flash.Write(random.Next(pages));
        }

        var (host, moved) = (flash.HostWrites, flash.CollectorWrites);
        for (var i = 0; i < pages * 10; i++)
        {
            flash.Write(random.Next(pages));
        }

        return (flash.HostWrites - host + flash.CollectorWrites - moved) / (double)(flash.HostWrites - host);
    }
}
