using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Faults;

namespace BlockSim.Storage.Tests;

/// <summary>Run-time fault rules: reproducible, aimed at sectors, and each kind doing what it says.</summary>
public class FaultRuleTests
{
    private const int Sector = 512;

    [Fact]
    public async Task The_same_seed_faults_the_same_sector_accesses_whatever_the_order_of_requests()
    {
        var sectors = Enumerable.Range(0, 400).SelectMany(s => Enumerable.Repeat((long)s, 5)).ToList();
        var inOrder = await FaultedAccesses(seed: 42, sectors);
        var shuffled = await FaultedAccesses(seed: 42, sectors.OrderBy(_ => Random.Shared.Next()).ToList());
        var otherSeed = await FaultedAccesses(seed: 43, sectors);

        Assert.InRange(inOrder.Count, 400, 800); // p = 0.3 of 2,000 reads
        Assert.Equal(inOrder, shuffled);
        Assert.NotEqual(inOrder, otherSeed);
    }

    [Fact]
    public async Task An_error_rule_fails_only_its_operations_and_sectors_with_its_errno()
    {
        var (device, control) = Controlled();
        control.Add(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Write, FirstSector = 8, LastSector = 15, Errno = FaultRule.ENOSPC });
        var buffer = new byte[4096];

        var refused = await Assert.ThrowsAsync<InjectedFaultException>(async () => await device.WriteAsync(7 * Sector, buffer.AsMemory(0, 1024)));
        Assert.Equal(FaultRule.ENOSPC, refused.Errno);
        await device.WriteAsync(16 * Sector, buffer); // past the range
        await device.WriteAsync(0, buffer.AsMemory(0, 8 * Sector)); // ends just before it
        await device.ReadAsync(8 * Sector, buffer); // another operation
        var fault = Assert.Single(control.Events(), e => e.Event == "fault");
        Assert.Equal((7L * Sector, 1024L, FaultRule.ENOSPC), (fault.Offset!.Value, fault.Length!.Value, fault.Errno!.Value));
    }

    [Fact]
    public async Task A_latent_sector_fails_reads_until_it_is_written_again()
    {
        var (device, control) = Controlled();
        control.Add(new FaultRule { Kind = FaultKind.Latent, Operations = FaultOperations.Read, FirstSector = 2, LastSector = 3 });
        var buffer = new byte[Sector];

        await Assert.ThrowsAsync<InjectedFaultException>(async () => await device.ReadAsync(2 * Sector, buffer));
        await Assert.ThrowsAsync<InjectedFaultException>(async () => await device.ReadAsync(2 * Sector, buffer)); // sticky
        await device.WriteAsync(2 * Sector, buffer);
        await device.ReadAsync(2 * Sector, buffer); // rewritten: reads
        await Assert.ThrowsAsync<InjectedFaultException>(async () => await device.ReadAsync(3 * Sector, buffer)); // its neighbour was not
    }

    [Fact]
    public async Task A_lost_write_is_acknowledged_and_never_stored_even_across_a_flush()
    {
        var (device, control) = Controlled();
        await device.WriteAsync(0, Filled(1));
        control.Add(new FaultRule { Kind = FaultKind.LostWrite, Operations = FaultOperations.Write, FirstSector = 0, LastSector = 0, Count = 1 });

        await device.WriteAsync(0, Filled(2)); // acknowledged
        await device.FlushAsync();
        var read = new byte[Sector];
        await device.ReadAsync(0, read);
        Assert.Equal(Filled(1), read);

        await device.WriteAsync(0, Filled(3)); // the count is spent
        await device.ReadAsync(0, read);
        Assert.Equal(Filled(3), read);
    }

    [Fact]
    public async Task Nth_faults_only_that_hit_and_count_caps_the_faults()
    {
        var (device, control) = Controlled();
        control.Add(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Read, FirstSector = 0, LastSector = 0, Nth = 3 });
        control.Add(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Read, FirstSector = 1, LastSector = 1, Count = 2 });
        var buffer = new byte[Sector];

        var nth = new List<bool>();
        var counted = new List<bool>();
        for (var i = 0; i < 5; i++)
        {
            nth.Add(await Fails(() => device.ReadAsync(0, buffer)));
            counted.Add(await Fails(() => device.ReadAsync(Sector, buffer)));
        }

        Assert.Equal([false, false, true, false, false], nth);
        Assert.Equal([true, true, false, false, false], counted);
    }

    [Fact]
    public async Task Pause_returns_once_requests_in_flight_are_done_and_holds_new_ones_until_resume()
    {
        var gate = new TaskCompletionSource();
        var control = new SimulationControl(1, Sector, 1 << 20);
        var device = new ControlledDevice(new GatedDevice(new MemoryBlockDevice(1 << 20), gate.Task), control);
        var inFlight = device.ReadAsync(0, new byte[Sector]).AsTask();

        var pause = control.PauseAsync();
        await Task.Delay(50);
        Assert.False(pause.IsCompleted); // the read is still running
        gate.SetResult();
        await inFlight;
        var last = await pause.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, last);

        var held = device.ReadAsync(0, new byte[Sector]).AsTask();
        await Task.Delay(50);
        Assert.False(held.IsCompleted);
        Assert.Equal(2, control.Resume());
        await held.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, control.Sequence);
    }

    [Fact]
    public async Task A_stall_holds_the_request_and_then_does_it()
    {
        var (device, control) = Controlled();
        control.Add(new FaultRule { Kind = FaultKind.Stall, Operations = FaultOperations.Write, StallMilliseconds = 300 });
        var write = device.WriteAsync(0, Filled(9)).AsTask();
        await Task.Delay(50);
        Assert.False(write.IsCompleted);
        await write.WaitAsync(TimeSpan.FromSeconds(10));
        var read = new byte[Sector];
        await device.ReadAsync(0, read);
        Assert.Equal(Filled(9), read);
    }

    [Fact]
    public async Task A_bit_flip_changes_one_bit_of_what_is_read_and_the_same_one_in_every_run()
    {
        var flipped = new List<int>();
        foreach (var run in new[] { 1, 2 })
        {
            var (device, control) = Controlled(seed: 5);
            await device.WriteAsync(0, Filled(0x55));
            control.Add(new FaultRule { Kind = FaultKind.BitFlip, Operations = FaultOperations.Read, FirstSector = 0, LastSector = 0, Count = 1 });
            var read = new byte[Sector];
            await device.ReadAsync(0, read);
            var differences = Enumerable.Range(0, Sector * 8).Where(bit => ((read[bit / 8] ^ 0x55) & (1 << (bit % 8))) != 0).ToList();
            flipped.Add(Assert.Single(differences));
            await device.ReadAsync(0, read); // stored data untouched, and the count spent
            Assert.Equal(Filled(0x55), read);
        }

        Assert.Equal(flipped[0], flipped[1]);
    }

    [Fact]
    public async Task A_bit_flip_on_a_write_stores_the_flipped_bit()
    {
        var (device, control) = Controlled();
        control.Add(new FaultRule { Kind = FaultKind.BitFlip, Operations = FaultOperations.Write, FirstSector = 4, LastSector = 4 });
        var source = Filled(0);
        await device.WriteAsync(4 * Sector, source);
        var read = new byte[Sector];
        await device.ReadAsync(4 * Sector, read);
        Assert.Equal(1, read.Sum(b => System.Numerics.BitOperations.PopCount(b)));
        Assert.Equal(Filled(0), source); // the caller's buffer is not touched
    }

    [Fact]
    public async Task A_misdirected_write_lands_shifted_and_leaves_its_place_alone()
    {
        var (device, control) = Controlled();
        control.Add(new FaultRule { Kind = FaultKind.Misdirect, Operations = FaultOperations.Write, FirstSector = 10, LastSector = 10, ShiftSectors = 100 });
        await device.WriteAsync(10 * Sector, Filled(7));
        var read = new byte[Sector];
        await device.ReadAsync(10 * Sector, read);
        Assert.Equal(new byte[Sector], read);
        await device.ReadAsync(110 * Sector, read);
        Assert.Equal(Filled(7), read);
        Assert.Contains(control.Events(), e => e.Detail == $"Misdirect stored at offset {110 * Sector}");
    }

    [Fact]
    public async Task A_reset_rule_asks_for_the_connection_to_be_dropped()
    {
        var (device, control) = Controlled();
        control.Add(new FaultRule { Kind = FaultKind.Reset, Operations = FaultOperations.Read, Nth = 2 });
        await device.ReadAsync(0, new byte[Sector]);
        var reset = await Assert.ThrowsAsync<InjectedFaultException>(async () => await device.ReadAsync(0, new byte[Sector]));
        Assert.True(reset.ResetsConnection);
        await device.ReadAsync(0, new byte[Sector]);
    }

    [Theory]
    [InlineData(0, 4096)] // past the end
    [InlineData(10, 5)]   // backwards
    public void A_rule_outside_the_device_is_refused_saying_why(long first, long last)
    {
        var (_, control) = Controlled();
        var refused = Assert.Throws<ArgumentException>(() => control.Add(new FaultRule { Operations = FaultOperations.Read, FirstSector = first, LastSector = last }));
        Assert.Contains("not a range on this device (sectors 0..2047)", refused.Message);
        Assert.Empty(control.Rules);
    }

    private static async Task<List<(long Sector, int Access)>> FaultedAccesses(long seed, List<long> sectors)
    {
        var (device, control) = Controlled(seed);
        control.Add(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Read, Probability = 0.3 });
        var seen = new Dictionary<long, int>();
        var faulted = new List<(long, int)>();
        var buffer = new byte[Sector];
        foreach (var sector in sectors)
        {
            var access = seen[sector] = seen.GetValueOrDefault(sector) + 1;
            if (await Fails(() => device.ReadAsync(sector * Sector, buffer)))
            {
                faulted.Add((sector, access));
            }
        }

        return [.. faulted.Order()];
    }

    private static async Task<bool> Fails(Func<ValueTask> request)
    {
        try
        {
            await request();
            return false;
        }
        catch (InjectedFaultException)
        {
            return true;
        }
    }

    private static (ControlledDevice Device, SimulationControl Control) Controlled(long seed = 7)
    {
        var inner = new MemoryBlockDevice(1 << 20);
        var control = new SimulationControl(seed, Sector, inner.Capacity);
        return (new ControlledDevice(inner, control), control);
    }

    private static byte[] Filled(byte value) => Enumerable.Repeat(value, Sector).ToArray();

    /// <summary>Reads wait for the gate: a request that stays in flight.</summary>
    private sealed class GatedDevice(IBlockDevice inner, Task gate) : Simulation.DelegatingBlockDevice(inner)
    {
        public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            await gate.ConfigureAwait(false);
            await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        }
    }
}
