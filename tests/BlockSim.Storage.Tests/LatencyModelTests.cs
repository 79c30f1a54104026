using System.Diagnostics;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Latency;

namespace BlockSim.Storage.Tests;

/// <summary>Latency distributions (their quantiles), the queue of service channels, and the timer that ends a wait.</summary>
public class LatencyModelTests
{
    [Theory]
    [InlineData("fixed:200us", 0.5, 200)]
    [InlineData("uniform:100us-300us", 0.25, 150)]
    [InlineData("lognormal:p50=1ms,p99=5ms", 0.5, 1000)]
    [InlineData("lognormal:p50=1ms,p99=5ms", 0.99, 5000)]
    [InlineData("pareto:min=100us,alpha=2", 0.75, 200)]      // (100 / x)^2 = 0.25
    [InlineData("table:p50=120us,p90=300us,p99=2ms", 0.5, 120)]
    [InlineData("table:p50=120us,p90=300us,p99=2ms", 0.7, 210)] // halfway from p50 to p90
    [InlineData("table:p50=120us,p90=300us,p99=2ms", 0.1, 120)] // below the first percentile: its time
    [InlineData("table:p50=120us,p90=300us,p99=2ms", 0.999, 2000)]
    public void A_distribution_gives_the_time_at_each_quantile(string text, double q, double microseconds)
    {
        Assert.Equal(microseconds, LatencyDistribution.Parse(text).Quantile(q).TotalMicroseconds, 0.01 * microseconds);
    }

    [Fact]
    public void Draws_follow_the_distribution()
    {
        var lognormal = LatencyDistribution.Parse("lognormal:p50=100us,p99=400us");
        var random = new Random(3);
        var draws = Enumerable.Range(0, 200_000).Select(_ => lognormal.Sample(random).TotalMicroseconds).Order().ToArray();

        Assert.Equal(100, draws[100_000], 2.0);
        Assert.Equal(400, draws[198_000], 12.0);
    }

    [Theory]
    [InlineData("gaussian:1ms", "no such distribution")]
    [InlineData("fixed:5", "5 is not a time")]
    [InlineData("uniform:3ms-1ms", "the high end is below the low one")]
    [InlineData("lognormal:p50=1ms", "it needs p99=TIME")]
    [InlineData("lognormal:p50=5ms,p99=1ms", "0 < p50 <= p99")]
    [InlineData("table:p50=2ms,p99=1ms", "do not go down")]
    [InlineData("table:q5=2ms", "q5 is not a percentile")]
    [InlineData("fixed:2h", "not a time from 0 to 3600s")]
    public void A_distribution_that_is_not_one_is_refused_with_the_forms_there_are(string text, string why)
    {
        var refused = Assert.Throws<FormatException>(() => LatencyDistribution.Parse(text));
        Assert.Contains(why, refused.Message);
        Assert.Contains("lognormal:p50=1ms,p99=5ms", refused.Message);
    }

    [Fact]
    public void Requests_past_the_channels_queue_for_the_first_free_one()
    {
        using var device = new QueuedLatencyDevice(new MemoryBlockDevice(1 << 20), LatencyDistribution.Parse("fixed:1ms"), null, null, channels: 2, seed: 1);

        // Four requests at once, 10 ticks of work each, two channels: two finish at 10, two at 20.
        Assert.Equal([10L, 10L, 20L, 20L], new[] { device.Schedule(0, 10), device.Schedule(0, 10), device.Schedule(0, 10), device.Schedule(0, 10) });
        Assert.Equal(100L, device.Schedule(90, 10)); // an idle channel starts at once
    }

    [Fact]
    public async Task The_timer_ends_no_wait_before_its_deadline_and_ends_them_soonest_first()
    {
        // How close to the deadline it ends them is the benchmark's to say (perf/RESULTS.md), not a unit test's;
        // the order is checked where the timer's thread completes them, which a loaded machine cannot reorder
        // (waiters resume on the thread pool, in whatever order it runs them).
        await PreciseTimer.At(Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 10_000)); // its thread started
        var start = Stopwatch.GetTimestamp();
        var deadlines = Enumerable.Range(0, 50).Select(i => start + (Stopwatch.Frequency * (200_000 - (i * 1_000)) / 1_000_000)).ToList(); // the later asked, the sooner due: 200 ms to 151 ms (none due before it is asked)
        var ours = deadlines.ToHashSet();
        var released = new List<long>();
        PreciseTimer.Released = deadline =>
        {
            if (ours.Contains(deadline))
            {
                lock (released)
                {
                    released.Add(deadline);
                }
            }
        };
        try
        {
            var waits = deadlines.Select(async deadline =>
            {
                await PreciseTimer.At(deadline);
                Assert.True(Stopwatch.GetTimestamp() >= deadline, "a wait ended before its deadline");
            }).ToList();
            await Task.WhenAll(waits);
        }
        finally
        {
            PreciseTimer.Released = null;
        }

        lock (released)
        {
            Assert.Equal(deadlines.Order(), released); // every one, soonest first, whatever the order asked
        }
    }
}
