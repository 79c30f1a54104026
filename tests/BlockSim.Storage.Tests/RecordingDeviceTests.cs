using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation;
using BlockSim.Storage.Simulation.Faults;
using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Storage.Tests;

/// <summary>The recorder passes requests through unchanged and logs what a crash-state model needs.</summary>
public class RecordingDeviceTests
{
    private const int Sector = 512;
    private const long Capacity = 1 << 20;

    [Fact]
    public async Task Replaying_the_log_to_any_mark_rebuilds_what_the_device_held_there()
    {
        using var folder = new TempDirectory();
        var path = folder.File("workload.bslog");
        var inner = new MemoryBlockDevice(Capacity);
        var snapshots = new List<byte[]>();
        var random = new Random(5);
        using (var device = new RecordingDevice(inner, WriteLogWriter.Create(path, Sector, Capacity)))
        {
            for (var step = 0; step < 300; step++)
            {
                var offset = random.Next(0, (int)(Capacity / Sector) - 16) * (long)Sector;
                var length = random.Next(1, 16) * Sector;
                var kind = random.Next(10);
                if (kind < 6)
                {
                    var payload = new byte[length];
                    random.NextBytes(payload);
                    await device.WriteAsync(offset, payload, fua: random.Next(4) == 0);
                }
                else if (kind == 6)
                {
                    await device.TrimAsync(offset, length);
                }
                else if (kind == 7)
                {
                    await device.WriteZeroesAsync(offset, length, mayDeallocate: random.Next(2) == 0);
                }
                else
                {
                    await device.FlushAsync();
                }

                if (step % 50 == 49)
                {
                    device.Mark($"step {step}");
                    snapshots.Add(await Image(inner));
                }
            }
        }

        using (var reader = WriteLogReader.Open(path))
        {
            var records = reader.ReadRecords().ToList();
            Assert.True(reader.IsFinished, "disposing the device closes its log");
            Assert.Equal(600 + snapshots.Count, records.Count);
            Assert.All(records.Where(r => r.Kind == WriteLogRecordKind.Completion), r => Assert.False(r.Failed));
        }

        var model = CrashStateModel.Load(path);
        var prefix = new CrashStateGenerator(model);
        for (var mark = 0; mark < snapshots.Count; mark++)
        {
            var recipe = Assert.Single(prefix.Prefix([model.CrashPointAt($"step {(mark * 50) + 49}")]));
            using var rebuilt = new MemoryBlockDevice(Capacity);
            await model.Build(recipe).ApplyToAsync(rebuilt);
            var image = await Image(rebuilt);
            Assert.True(snapshots[mark].AsSpan().SequenceEqual(image), $"the state at mark {mark} differs from the device then");
        }
    }

    [Fact]
    public async Task Submission_and_completion_are_logged_when_they_happen_so_a_flush_sent_before_a_write_finished_does_not_cover_it()
    {
        var stream = new MemoryStream();
        var gated = new GatedDevice(new MemoryBlockDevice(Capacity));
        var device = new RecordingDevice(gated, new WriteLogWriter(stream, Sector, Capacity, leaveOpen: true));
        var write = device.WriteAsync(0, new byte[Sector]).AsTask();
        var flush = device.FlushAsync().AsTask();
        gated.Release(0);                // the write finishes after the flush was sent
        await write;
        gated.Release(1);
        await flush;
        device.Dispose();

        stream.Position = 0;
        using var reader = new WriteLogReader(stream);
        var records = reader.ReadRecords().ToList();
        Assert.Equal(["#0 write 1 at 0 length 512", "#1 flush 2", "#2 completed 1", "#3 completed 2"], records.Select(r => r.ToString()));
        var analysis = new CrashStateModel(reader.Header, records).Analyze(records.Count);
        Assert.Equal([1L], analysis.Unflushed.Select(r => r.Id));
    }

    [Fact]
    public async Task A_request_that_fails_below_is_logged_as_failed_and_counts_as_in_flight()
    {
        var stream = new MemoryStream();
        var control = new SimulationControl(seed: 1, Sector, Capacity);
        control.Add(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Write, FirstSector = 8, LastSector = 15, Errno = FaultRule.EIO });
        var device = new RecordingDevice(new ControlledDevice(new MemoryBlockDevice(Capacity), control), new WriteLogWriter(stream, Sector, Capacity, leaveOpen: true));
        await device.WriteAsync(0, new byte[Sector], fua: true);
        await Assert.ThrowsAsync<InjectedFaultException>(async () => await device.WriteAsync(8 * Sector, new byte[2 * Sector]));
        device.Dispose();

        stream.Position = 0;
        using var reader = new WriteLogReader(stream);
        var records = reader.ReadRecords().ToList();
        Assert.Equal(["#0 write 1 at 0 length 512 fua", "#1 completed 1", "#2 write 2 at 4096 length 1024", "#3 failed 2"], records.Select(r => r.ToString()));
        var analysis = new CrashStateModel(reader.Header, records).Analyze(records.Count);
        Assert.Equal([1L], analysis.Durable.Select(r => r.Id));
        Assert.Equal([2L], analysis.InFlight.Select(r => r.Id));
    }

    [Fact]
    public async Task A_request_that_throws_before_it_starts_is_logged_as_failed_too()
    {
        var stream = new MemoryStream();
        var device = new RecordingDevice(new ThrowingDevice(new MemoryBlockDevice(Capacity)), new WriteLogWriter(stream, Sector, Capacity, leaveOpen: true));
        Assert.Throws<IOException>(() => { _ = device.FlushAsync(); });
        device.Dispose();

        stream.Position = 0;
        using var reader = new WriteLogReader(stream);
        Assert.Equal(["#0 flush 1", "#1 failed 1"], reader.ReadRecords().Select(r => r.ToString()));
    }

    private static async Task<byte[]> Image(IBlockDevice device)
    {
        var image = new byte[device.Capacity];
        await device.ReadAsync(0, image);
        return image;
    }

    /// <summary>Holds each write and flush until the test releases it (by order of arrival), so completion order is the test's.</summary>
    private sealed class GatedDevice(IBlockDevice inner) : DelegatingBlockDevice(inner)
    {
        private readonly List<TaskCompletionSource> _gates = [];

        public void Release(int arrival) => _gates[arrival].SetResult();

        public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
        {
            await Gate();
            await Inner.WriteAsync(offset, source, fua, cancellationToken);
        }

        public override async ValueTask FlushAsync(CancellationToken cancellationToken = default)
        {
            await Gate();
            await Inner.FlushAsync(cancellationToken);
        }

        private Task Gate()
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _gates.Add(gate);
            return gate.Task;
        }
    }

    private sealed class ThrowingDevice(IBlockDevice inner) : DelegatingBlockDevice(inner)
    {
        public override ValueTask FlushAsync(CancellationToken cancellationToken = default) => throw new IOException("the device is gone");
    }
}
