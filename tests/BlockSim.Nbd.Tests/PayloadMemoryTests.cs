using BlockSim.Nbd.Server;

namespace BlockSim.Nbd.Tests;

/// <summary>The server's payload budget and buffer pool on their own: grants, waits, cancellation, what is kept.</summary>
public class PayloadMemoryTests
{
    private const long MiB = 1L << 20;

    [Fact]
    public async Task A_share_waits_until_enough_is_given_back_and_waiters_are_served_in_order()
    {
        var memory = new PayloadMemory(4 * MiB);
        await memory.AcquireAsync(3 * MiB, new PayloadWaiter(), CancellationToken.None);

        var big = memory.AcquireAsync(2 * MiB, new PayloadWaiter(), CancellationToken.None);
        var small = memory.AcquireAsync(1 * MiB, new PayloadWaiter(), CancellationToken.None);
        Assert.False(big.IsCompleted);
        Assert.False(small.IsCompleted); // it would fit, but it does not overtake the request ahead of it

        memory.Release(1 * MiB);
        await big.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(small.IsCompleted);

        memory.Release(2 * MiB);
        await small.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3 * MiB, memory.Held);
    }

    [Fact]
    public async Task A_cancelled_wait_leaves_the_queue_and_takes_nothing()
    {
        var memory = new PayloadMemory(2 * MiB);
        await memory.AcquireAsync(2 * MiB, new PayloadWaiter(), CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiter = new PayloadWaiter();
        var waiting = memory.AcquireAsync(1 * MiB, waiter, cancel.Token);
        var behind = memory.AcquireAsync(1 * MiB, new PayloadWaiter(), CancellationToken.None);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.AsTask());
        memory.Release(1 * MiB);
        await behind.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2 * MiB, memory.Held);

        // The same waiter serves its next wait.
        memory.Release(2 * MiB);
        await memory.AcquireAsync(1 * MiB, waiter, CancellationToken.None);
        Assert.Equal(1 * MiB, memory.Held);
    }

    [Fact]
    public void A_buffer_given_back_is_handed_out_again_and_sizes_round_up_to_a_power_of_two()
    {
        var memory = new PayloadMemory(64 * MiB);
        Assert.Equal(PayloadMemory.SmallestBuffer, memory.CostOf(1));
        Assert.Equal(128 * 1024, memory.CostOf(128 * 1024));
        Assert.Equal(256 * 1024, memory.CostOf((128 * 1024) + 1));

        var first = memory.Rent(100_000);
        Assert.Equal(128 * 1024, first.Length);
        memory.Release(0, first);
        Assert.Same(first, memory.Rent(128 * 1024));
        Assert.Equal(1, memory.RentedBuffers);
    }

    [Fact]
    public async Task Kept_buffers_give_way_so_held_and_kept_never_exceed_the_budget()
    {
        var memory = new PayloadMemory(4 * MiB);
        var buffers = Enumerable.Range(0, 4).Select(_ => memory.Rent((int)MiB)).ToList();
        buffers.ForEach(buffer => memory.Release(0, buffer)); // four 1 MiB buffers kept

        Assert.Equal(4 * MiB, memory.Retained);
        var extra = memory.Rent(2 * (int)MiB);
        await memory.AcquireAsync(3 * MiB, new PayloadWaiter(), CancellationToken.None);
        Assert.Equal(1 * MiB, memory.Retained);

        // A buffer coming back while the budget is spent is not kept.
        memory.Release(0, extra);
        Assert.Equal(1 * MiB, memory.Retained);
        Assert.Equal(0, memory.RentedBuffers);
    }

    [Fact]
    public void A_request_larger_than_the_whole_budget_costs_the_whole_budget_so_it_can_run_alone()
    {
        var memory = new PayloadMemory(8 * MiB);
        Assert.Equal(8 * MiB, memory.CostOf(32 << 20));
    }
}
