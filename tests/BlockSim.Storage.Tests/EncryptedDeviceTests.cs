using System.Security.Cryptography;
using BlockSim.Crypto;
using BlockSim.Storage.Devices;

namespace BlockSim.Storage.Tests;

public class EncryptedDeviceTests
{
    private const long Capacity = 4L << 20;

    [Theory]
    [InlineData(512, 1)]
    [InlineData(4096, 2)]
    public async Task Random_unaligned_operations_match_a_plain_model(int sectorSize, int seed)
    {
        using var device = EncryptedBlockDevice.WithEphemeralKey(new MemoryBlockDevice(Capacity), sectorSize);
        var model = new byte[Capacity];
        var random = new Random(seed);
        for (var step = 0; step < 400; step++)
        {
            var offset = random.NextInt64(0, Capacity - 1);
            var length = (int)Math.Min(Capacity - offset, random.Next(1, 3 * sectorSize));
            switch (random.Next(4))
            {
                case 0:
                case 1:
                    var data = VolumeTests.RandomBytes(length, step);
                    await device.WriteAsync(offset, data);
                    data.CopyTo(model, offset);
                    break;
                case 2:
                    await device.WriteZeroesAsync(offset, length, mayDeallocate: random.Next(2) == 0);
                    Array.Clear(model, (int)offset, length);
                    break;
                default:
                    var back = new byte[length];
                    await device.ReadAsync(offset, back);
                    Assert.True(model.AsSpan((int)offset, length).SequenceEqual(back), $"step {step}: read {length} at {offset}");
                    break;
            }
        }

        var all = new byte[Capacity];
        await device.ReadAsync(0, all);
        Assert.True(model.AsSpan().SequenceEqual(all));
    }

    [Fact]
    public async Task Unwritten_and_trimmed_sectors_read_as_zeros()
    {
        var inner = new MemoryBlockDevice(Capacity);
        using var device = EncryptedBlockDevice.WithEphemeralKey(inner, 4096);
        var zeros = new byte[65536];
        var back = new byte[65536];
        await device.ReadAsync(0, back);
        Assert.Equal(zeros, back);
        await device.WriteAsync(0, VolumeTests.RandomBytes(65536, 9));
        await device.TrimAsync(0, 65536);
        await device.ReadAsync(0, back);
        Assert.Equal(zeros, back);
        Assert.Equal(0, inner.AllocatedBytes);
    }

    [Fact]
    public async Task Concurrent_partial_writes_to_the_same_sectors_lose_nothing()
    {
        // 16 writers each own 8 bytes of every sector and write them at once. Each write is a
        // read-modify-write of whole sectors: without the sector locks, writers overwrite each other.
        // The inner device yields inside every read, as an asynchronous disk would, so other writers run
        // between a read-modify-write's read and its write.
        using var device = EncryptedBlockDevice.WithEphemeralKey(new YieldingDevice(new MemoryBlockDevice(Capacity)), 4096);
        const int Writers = 16;
        const int Sectors = 8;
        const int Rounds = 20;

        // A new value every round, so a lost update is not repaired by the next round.
        static byte Value(int writer, int round) => (byte)((((round * Writers) + writer) % 251) + 1);
        var tasks = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var round = 0; round < Rounds; round++)
            {
                for (var s = 0; s < Sectors; s++)
                {
                    await device.WriteAsync((s * 4096L) + (w * 8), BackendTests.Fill(8, Value(w, round)));
                }
            }
        }));
        await Task.WhenAll(tasks);
        var back = new byte[Sectors * 4096];
        await device.ReadAsync(0, back);
        for (var s = 0; s < Sectors; s++)
        {
            for (var w = 0; w < Writers; w++)
            {
                Assert.All(back.AsSpan((s * 4096) + (w * 8), 8).ToArray(), b => Assert.Equal(Value(w, Rounds - 1), b));
            }
        }
    }

    [Fact]
    public async Task Whole_sector_writes_to_different_sectors_are_all_in_flight_at_once()
    {
        // Eight sequential 128 KiB writes, as fio's seqwrite at depth 8 sends them, to a disk that holds
        // every write until told: all eight must reach it before any completes. With too few sector-lock
        // stripes a write waited for the one two requests ahead, and a slow disk saw two at a time.
        var gate = new GatedDevice(new MemoryBlockDevice(Capacity));
        using var device = EncryptedBlockDevice.WithEphemeralKey(gate, 4096);
        const int Depth = 8;
        var writes = Enumerable.Range(0, Depth).Select(i => device.WriteAsync(i * 128L * 1024, new byte[128 * 1024]).AsTask()).ToList();
        for (var arrived = 0; arrived < Depth; arrived++)
        {
            Assert.True(await gate.Arrived.WaitAsync(TimeSpan.FromSeconds(30)), $"only {arrived} of {Depth} writes reached the disk while the first were held");
        }

        gate.Open.TrySetResult();
        await Task.WhenAll(writes);
    }

    /// <summary>Holds every write until <see cref="Open"/> is set, and signals <see cref="Arrived"/> as each one comes in.</summary>
    private sealed class GatedDevice(IBlockDevice inner) : BlockSim.Storage.Simulation.DelegatingBlockDevice(inner)
    {
        public SemaphoreSlim Arrived { get; } = new(0);

        public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
        {
            Arrived.Release();
            await Open.Task.ConfigureAwait(false);
            await Inner.WriteAsync(offset, source, fua, cancellationToken).ConfigureAwait(false);
        }
    }

    [Fact]
    public async Task Zeroing_that_must_stay_allocated_is_refused_when_only_fast_zeroing_is_allowed()
    {
        using var device = EncryptedBlockDevice.WithEphemeralKey(new MemoryBlockDevice(Capacity), 4096);
        await Assert.ThrowsAsync<NotSupportedException>(() => device.WriteZeroesAsync(0, 65536, mayDeallocate: false, fastOnly: true).AsTask());
        await device.WriteZeroesAsync(0, 65536, mayDeallocate: true, fastOnly: true);
    }

    [Fact]
    public void Disposing_the_device_disposes_the_cipher()
    {
        var key = RandomNumberGenerator.GetBytes(64);
        var xts = new XtsAes256(key);
        var device = new EncryptedBlockDevice(new MemoryBlockDevice(Capacity), xts, 4096);
        device.Dispose();
        Assert.Throws<ObjectDisposedException>(() => xts.EncryptSectors(new byte[4096], 0, 4096));
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Aligned_io_straight_on_memory_pages_matches_io_through_a_copy(int sectorSize)
    {
        // The same stored bytes written and read two ways: the encrypted device encrypts into and decrypts out of a
        // memory device's pages directly, and through any other device (here a pass-through) by way of a copy.
        var key = RandomNumberGenerator.GetBytes(64);
        var memory = new MemoryBlockDevice(Capacity);
        using var direct = new EncryptedBlockDevice(memory, new XtsAes256(key), sectorSize);
        using var copied = new EncryptedBlockDevice(new PassThroughDevice(memory), new XtsAes256(key), sectorSize);
        CryptographicOperations.ZeroMemory(key);
        var model = new byte[Capacity];
        var random = new Random(sectorSize);
        for (var step = 0; step < 60; step++)
        {
            var offset = random.NextInt64(0, Capacity / sectorSize - 64) * sectorSize;
            var length = random.Next(1, 64) * sectorSize;
            if (random.Next(3) == 0)
            {
                await direct.TrimAsync(offset, length); // holes inside runs of data, whole pages freed
                Array.Clear(model, (int)offset, length);
            }
            else
            {
                var data = VolumeTests.RandomBytes(length, step);
                await (step % 2 == 0 ? direct : copied).WriteAsync(offset, data); // into the pages, or through a copy
                data.CopyTo(model, offset);
            }
        }

        for (var step = 0; step < 200; step++)
        {
            var offset = random.NextInt64(0, Capacity / sectorSize - 300) * sectorSize;
            var length = random.Next(1, 300) * sectorSize; // up to 150 KiB or 1.2 MiB: across 64 KiB pages
            var first = new byte[length];
            var second = new byte[length];
            first.AsSpan().Fill(0xA5); // stale bytes in the buffer must not survive a read of a hole
            second.AsSpan().Fill(0x5A);
            await direct.ReadAsync(offset, first);
            await copied.ReadAsync(offset, second);
            Assert.True(model.AsSpan((int)offset, length).SequenceEqual(first), $"read {length} at {offset} from the pages");
            Assert.True(first.AsSpan().SequenceEqual(second), $"read {length} at {offset} through a copy");
        }
    }

    [Fact]
    public async Task Ephemeral_keys_keep_plaintext_off_the_inner_device_and_differ_between_devices()
    {
        var data = VolumeTests.RandomBytes(3 * 4096, 7);
        using var first = new MemoryBlockDevice(Capacity);
        using var second = new MemoryBlockDevice(Capacity);
        using var firstEncrypted = EncryptedBlockDevice.WithEphemeralKey(first, 4096);
        using var secondEncrypted = EncryptedBlockDevice.WithEphemeralKey(second, 4096);
        await firstEncrypted.WriteAsync(8192, data);
        await secondEncrypted.WriteAsync(8192, data);

        var back = new byte[data.Length];
        await firstEncrypted.ReadAsync(8192, back);
        Assert.Equal(data, back);
        var firstStored = new byte[data.Length];
        var secondStored = new byte[data.Length];
        await first.ReadAsync(8192, firstStored);
        await second.ReadAsync(8192, secondStored);
        Assert.NotEqual(data, firstStored);
        Assert.NotEqual(firstStored, secondStored); // a fresh key per device, not a fixed one
    }

    [Fact]
    public void The_encrypted_device_completes_synchronously_exactly_when_what_it_stores_on_does()
    {
        using var overMemory = EncryptedBlockDevice.WithEphemeralKey(new MemoryBlockDevice(Capacity), 4096);
        using var overLatency = EncryptedBlockDevice.WithEphemeralKey(new Simulation.LatencyDevice(new MemoryBlockDevice(Capacity), TimeSpan.FromMilliseconds(1)), 4096);
        Assert.True(overMemory.CompletesSynchronously);
        Assert.False(overLatency.CompletesSynchronously);
    }

    private sealed class PassThroughDevice(IBlockDevice inner) : Simulation.DelegatingBlockDevice(inner);

    private sealed class YieldingDevice(IBlockDevice inner) : Simulation.DelegatingBlockDevice(inner)
    {
        public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
        {
            await Inner.ReadAsync(offset, destination, cancellationToken);
            await Task.Yield(); // after reading: the window between a read-modify-write's read and its write

        }
    }
}
