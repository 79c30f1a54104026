using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BlockSim.Storage;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Benchmarks.Storage;

/// <summary>
/// What recording costs a write: a memory device bare and under <see cref="RecordingDevice"/> logging to a
/// stream that discards (the log's own framing, checksum and locking, without the disk it goes to).
/// </summary>
[MemoryDiagnoser]
public class RecordingBenchmarks
{
    private IBlockDevice _device = null!;
    private byte[] _buffer = null!;
    private string? _log;

    [Params(4096, 131072)]
    public int Size { get; set; }

    [Params("bare", "to nothing", "to a file")]
    public string Recorded { get; set; } = "bare";

    [GlobalSetup]
    public void Setup()
    {
        var memory = new MemoryBlockDevice(64L << 20);
        _buffer = RandomNumberGenerator.GetBytes(Size);
        _device = Recorded switch
        {
            "to nothing" => new RecordingDevice(memory, new WriteLogWriter(Stream.Null, 512, memory.Capacity)),
            "to a file" => new RecordingDevice(memory, WriteLogWriter.Create(_log = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.bslog"), 512, memory.Capacity)),
            _ => memory,
        };
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _device.Dispose();
        if (_log is not null)
        {
            File.Delete(_log);
        }
    }

    [Benchmark]
    public ValueTask Write() => _device.WriteAsync(0, _buffer);
}
