using System.Security.Cryptography;
using Xunit.Abstractions;

namespace BlockSim.Storage.Rbd.Tests;

[Collection(CephCollection.Name)]
public sealed class RbdBlockDeviceTests(CephCluster cluster, ITestOutputHelper log)
{
    private const long Mi = 1L << 20;

    [SkippableFact]
    public async Task Writes_read_back_at_unaligned_and_large_sizes()
    {
        using var device = OpenNew(out _);
        Assert.Equal(64 * Mi, device.Capacity);
        Assert.Equal(512, device.SectorSize);

        var small = RandomNumberGenerator.GetBytes(1000);
        await device.WriteAsync(12345, small);
        var large = RandomNumberGenerator.GetBytes((int)(9 * Mi) + 333); // across three 4 MiB objects
        await device.WriteAsync(3 * Mi + 17, large);

        Assert.Equal(small, await ReadAsync(device, 12345, small.Length));
        Assert.Equal(large, await ReadAsync(device, 3 * Mi + 17, large.Length));
        Assert.All(await ReadAsync(device, 40 * Mi + 1, 5000), b => Assert.Equal(0, b)); // never written
    }

    [SkippableFact]
    public async Task Many_requests_in_flight_complete_each_with_its_own_data()
    {
        using var device = OpenNew(out _);
        var blocks = Enumerable.Range(0, 128).Select(_ => RandomNumberGenerator.GetBytes(4096)).ToArray();
        await Task.WhenAll(blocks.Select((b, i) => device.WriteAsync(i * 8192L, b).AsTask()));
        var reads = await Task.WhenAll(blocks.Select((b, i) => ReadAsync(device, i * 8192L, b.Length)));
        for (var i = 0; i < blocks.Length; i++)
        {
            Assert.Equal(blocks[i], reads[i]);
        }
    }

    [SkippableFact]
    public async Task Steady_state_requests_allocate_next_to_nothing()
    {
        using var device = OpenNew(out _);
        var buffer = new byte[4096];
        for (var i = 0; i < 200; i++)
        {
            await device.WriteAsync(i * 4096L, buffer);
            await device.ReadAsync(i * 4096L, buffer);
        }

        // Whole-process counts: anything else running (the previous test's connection winding down, the
        // runner) adds to them, so the least of five rounds is what the requests themselves cost.
        const int Requests = 400;
        var perRequest = double.MaxValue;
        for (var round = 0; round < 5; round++)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < Requests / 2; i++)
            {
                await device.WriteAsync(i * 4096L, buffer);
                await device.ReadAsync(i * 4096L, buffer);
            }

            perRequest = Math.Min(perRequest, (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Requests);
        }

        log.WriteLine($"{perRequest:F1} bytes allocated per request (whole process, least of five rounds)");
        Assert.True(perRequest < 64, $"{perRequest:F1} bytes per request");
    }

    [SkippableFact]
    public async Task Flush_and_fua_writes_are_seen_by_a_later_reader()
    {
        using var device = OpenNew(out var image);
        var data = RandomNumberGenerator.GetBytes(8192);
        await device.WriteAsync(0, data, fua: true);
        await device.WriteAsync(Mi, data);
        await device.FlushAsync();

        using var reader = RbdBlockDevice.Open(cluster.Pool, image, readOnly: true);
        Assert.Equal(data, await ReadAsync(reader, 0, data.Length));
        Assert.Equal(data, await ReadAsync(reader, Mi, data.Length));
    }

    [SkippableFact]
    public async Task Trim_then_reads_zeros_and_reports_a_hole()
    {
        using var device = OpenNew(out _);
        await device.WriteAsync(4 * Mi, RandomNumberGenerator.GetBytes((int)(8 * Mi)));
        await device.TrimAsync(4 * Mi, 4 * Mi); // one whole object

        Assert.All(await ReadAsync(device, 4 * Mi, (int)(4 * Mi)), b => Assert.Equal(0, b));
        Assert.Contains(await ReadAsync(device, 8 * Mi, 4096), b => b != 0);
        Assert.Equal([new BlockExtent(4 * Mi, Allocation.Hole)], Extents(device, 4 * Mi, 4 * Mi));
        Assert.True(device.Capabilities.HasFlag(BlockDeviceCapabilities.Trim));
    }

    [SkippableFact]
    public async Task Write_zeroes_zeroes_exactly_its_range_with_or_without_deallocating()
    {
        using var device = OpenNew(out _);
        var data = RandomNumberGenerator.GetBytes((int)(2 * Mi));
        await device.WriteAsync(0, data);
        await device.WriteZeroesAsync(1000, 5000, mayDeallocate: true);
        await device.WriteZeroesAsync(Mi + 3, 70000, mayDeallocate: false);

        var back = await ReadAsync(device, 0, data.Length);
        for (var i = 0; i < back.Length; i++)
        {
            var zeroed = (i >= 1000 && i < 6000) || (i >= Mi + 3 && i < Mi + 3 + 70000);
            if (back[i] != (zeroed ? 0 : data[i]))
            {
                Assert.Fail($"byte {i}: {back[i]}, expected {(zeroed ? 0 : data[i])}");
            }
        }

        // Zeros that must stay allocated are written out: not fast, so a fast-only request says so at once.
        await Assert.ThrowsAsync<NotSupportedException>(() => device.WriteZeroesAsync(0, 4096, mayDeallocate: false, fastOnly: true).AsTask());
        await device.WriteZeroesAsync(8 * Mi, 4 * Mi, mayDeallocate: true, fastOnly: true);
    }

    [SkippableFact]
    public async Task Allocation_reports_holes_where_nothing_was_written_and_data_where_it_was()
    {
        using var device = OpenNew(out _);
        Assert.Equal([new BlockExtent(64 * Mi, Allocation.Hole)], Extents(device, 0, 64 * Mi));

        await device.WriteAsync(8 * Mi, RandomNumberGenerator.GetBytes(65536));
        await device.WriteAsync(20 * Mi, RandomNumberGenerator.GetBytes(4096));
        var extents = Extents(device, 0, 64 * Mi);
        log.WriteLine(string.Join(", ", extents));
        Assert.Equal(64 * Mi, extents.Sum(e => e.Length));
        Assert.Equal(Allocation.Hole, State(extents, 0));
        Assert.Equal(Allocation.Hole, State(extents, 8 * Mi - 1));
        Assert.Equal(Allocation.Data, State(extents, 8 * Mi));
        Assert.Equal(Allocation.Data, State(extents, 8 * Mi + 65535));
        Assert.Equal(Allocation.Hole, State(extents, 12 * Mi));
        Assert.Equal(Allocation.Data, State(extents, 20 * Mi + 100));
        Assert.Equal(Allocation.Hole, State(extents, 63 * Mi));

        // From an offset inside data, and with room for one extent only.
        Span<BlockExtent> one = stackalloc BlockExtent[1];
        Assert.Equal(1, device.GetAllocation(8 * Mi + 4096, 52 * Mi, one));
        Assert.Equal(Allocation.Data, one[0].State);
        Assert.True(one[0].Length is > 0 and <= 4 * Mi, one[0].ToString());
    }

    [SkippableFact]
    public async Task A_second_writer_is_refused_and_told_who_holds_the_lock()
    {
        cluster.Require();
        var image = cluster.CreateImage();
        using var first = cluster.Connect();
        using var firstPool = first.OpenPool("rbd");
        using var second = cluster.Connect();
        using var secondPool = second.OpenPool("rbd");
        using var writer = RbdBlockDevice.Open(firstPool, image);
        await writer.WriteAsync(0, new byte[4096]);
        Assert.True(writer.HoldsLock());

        var refused = Assert.Throws<RbdLockHeldException>(() => RbdBlockDevice.Open(secondPool, image));
        log.WriteLine(refused.Message);
        log.WriteLine($"first client: {first.Address}");
        var owner = Assert.Single(refused.Owners);
        Assert.True(IsSession(owner, first), $"{owner} is not {first.Address}");
        Assert.Contains(owner, refused.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<IOException>(refused);

        // The first writer is undisturbed.
        await writer.WriteAsync(4096, new byte[4096]);
        Assert.True(writer.HoldsLock());
    }

    [SkippableFact]
    public async Task Breaking_the_lock_fences_the_old_writer()
    {
        cluster.Require();
        var image = cluster.CreateImage();
        using var first = cluster.Connect();
        using var firstPool = first.OpenPool("rbd");
        using var second = cluster.Connect();
        using var secondPool = second.OpenPool("rbd");
        var old = RbdBlockDevice.Open(firstPool, image);
        await old.WriteAsync(0, Filled(4096, 1));
        await old.FlushAsync();

        var broken = RbdBlockDevice.BreakLock(secondPool, image);
        Assert.True(IsSession(Assert.Single(broken), first), $"{string.Join(", ", broken)} is not {first.Address}");
        using var successor = RbdBlockDevice.Open(secondPool, image);
        await successor.WriteAsync(0, Filled(4096, 2));
        await successor.FlushAsync();

        // The fenced writer's next writes fail, with a clear error, and never land.
        RbdException? fenced = null;
        for (var attempt = 0; attempt < 50 && fenced is null; attempt++)
        {
            try
            {
                await old.WriteAsync(0, Filled(4096, 3)).AsTask().WaitAsync(TimeSpan.FromSeconds(40));
                await old.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(40));
                await Task.Delay(100);
            }
            catch (RbdException e)
            {
                fenced = e;
            }
        }

        Assert.NotNull(fenced);
        log.WriteLine(fenced.Message);
        Assert.True(fenced.IsFenced || fenced.IsLockLost, fenced.Message);
        Assert.Contains(image, fenced.Message, StringComparison.Ordinal);
        Assert.All(await ReadAsync(successor, 0, 4096), b => Assert.Equal(2, b));
        await Assert.ThrowsAsync<RbdException>(() => old.WriteAsync(8192, Filled(512, 3)).AsTask().WaitAsync(TimeSpan.FromSeconds(40)));
        await Task.Run(old.Dispose).WaitAsync(TimeSpan.FromSeconds(60)); // closing a fenced handle neither hangs nor throws
    }

    [SkippableFact]
    public async Task A_read_only_open_works_while_a_writer_holds_the_lock()
    {
        cluster.Require();
        var image = cluster.CreateImage();
        using var other = cluster.Connect();
        using var otherPool = other.OpenPool("rbd");
        using var writer = RbdBlockDevice.Open(otherPool, image);
        var data = RandomNumberGenerator.GetBytes(4096);
        await writer.WriteAsync(Mi, data);
        await writer.FlushAsync();

        using var reader = RbdBlockDevice.Open(cluster.Pool, image, readOnly: true);
        Assert.True(reader.IsReadOnly);
        Assert.Equal(data, await ReadAsync(reader, Mi, data.Length));
        var refused = await Assert.ThrowsAsync<IOException>(() => reader.WriteAsync(0, data).AsTask());
        Assert.Contains("read-only", refused.Message, StringComparison.Ordinal);
        Assert.True(writer.HoldsLock());
        await writer.WriteAsync(0, data); // the reader took nothing from it
    }

    [SkippableFact]
    public async Task Bad_input_gives_exceptions_not_crashes()
    {
        using var device = OpenNew(out var image);
        var buffer = new byte[4096];
        Assert.Throws<ArgumentOutOfRangeException>(() => device.ReadAsync(device.Capacity, buffer));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.ReadAsync(device.Capacity - 100, buffer));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.WriteAsync(-1, buffer));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.TrimAsync(0, device.Capacity + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.GetAllocation(device.Capacity + 4096, 4096, new BlockExtent[4]));

        var missing = Assert.Throws<RbdException>(() => RbdBlockDevice.Open(cluster.Pool, "no-such-image"));
        Assert.Contains("no-such-image", missing.Message, StringComparison.Ordinal);
        Assert.Throws<RbdException>(() => RbdBlockDevice.Create(cluster.Pool, image, Mi)); // exists
        Assert.Throws<RbdException>(() => cluster.Pool.Connection.OpenPool("no-such-pool"));
        var noConf = Assert.Throws<RbdException>(() => RadosConnection.Connect("/nonexistent/ceph.conf"));
        log.WriteLine(noConf.Message);

        // The device is still fine afterwards.
        await device.WriteAsync(0, buffer);
        device.Dispose();
        Assert.Throws<ObjectDisposedException>(() => device.ReadAsync(0, buffer));
    }

    [SkippableFact]
    public async Task Resize_grows_the_image_and_remove_deletes_it()
    {
        cluster.Require();
        var image = cluster.CreateImage(8 * Mi);
        using (var device = RbdBlockDevice.Open(cluster.Pool, image))
        {
            device.Resize(16 * Mi);
            Assert.Equal(16 * Mi, device.Capacity);
            await device.WriteAsync(15 * Mi, new byte[4096]);
        }

        RbdBlockDevice.Remove(cluster.Pool, image);
        Assert.Throws<RbdException>(() => RbdBlockDevice.Open(cluster.Pool, image));
    }

    /// <summary>Lock owners are named by address and nonce ("127.0.0.1:0/1234"); the nonce tells sessions apart.</summary>
    private static bool IsSession(string owner, RadosConnection connection) =>
        owner.Contains('/', StringComparison.Ordinal) && connection.Address.Contains(owner[owner.IndexOf('/', StringComparison.Ordinal)..], StringComparison.Ordinal);

    private RbdBlockDevice OpenNew(out string image)
    {
        cluster.Require();
        image = cluster.CreateImage();
        return RbdBlockDevice.Open(cluster.Pool, image);
    }

    private static async Task<byte[]> ReadAsync(IBlockDevice device, long offset, int length)
    {
        var buffer = new byte[length];
        await device.ReadAsync(offset, buffer);
        return buffer;
    }

    private static BlockExtent[] Extents(IBlockDevice device, long offset, long length)
    {
        var all = new List<BlockExtent>();
        var extents = new BlockExtent[16];
        while (length > 0)
        {
            var count = device.GetAllocation(offset, length, extents);
            Assert.True(count > 0);
            foreach (var extent in extents.AsSpan(0, count))
            {
                if (all.Count > 0 && all[^1].State == extent.State)
                {
                    all[^1] = all[^1] with { Length = all[^1].Length + extent.Length };
                }
                else
                {
                    all.Add(extent);
                }

                offset += extent.Length;
                length -= extent.Length;
            }
        }

        return [.. all];
    }

    private static Allocation State(BlockExtent[] extents, long at)
    {
        foreach (var extent in extents)
        {
            if (at < extent.Length)
            {
                return extent.State;
            }

            at -= extent.Length;
        }

        throw new ArgumentOutOfRangeException(nameof(at));
    }

    private static byte[] Filled(int length, byte value)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, value);
        return bytes;
    }
}
