using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BlockSim.Storage;
using BlockSim.Storage.Devices;

namespace BlockSim.Benchmarks.Storage;

/// <summary>
/// What encryption costs in the storage layer: aligned reads and writes on a memory device, plain and
/// through <see cref="EncryptedBlockDevice"/> (4 KiB sectors, the process's XTS tier).
/// </summary>
[MemoryDiagnoser]
public class EncryptedDeviceBenchmarks
{
    private IBlockDevice _device = null!;
    private byte[] _buffer = null!;

    [Params(false, true)]
    public bool Encrypted { get; set; }

    [Params(4096, 131072)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _device = BenchmarkDevices.Memory(64L << 20, Encrypted);
        _buffer = RandomNumberGenerator.GetBytes(Size);
        _device.WriteAsync(0, _buffer).AsTask().Wait(); // reads then decrypt real data, not holes
    }

    [GlobalCleanup]
    public void Cleanup() => _device.Dispose();

    [Benchmark]
    public ValueTask Read() => _device.ReadAsync(0, _buffer);

    [Benchmark]
    public ValueTask Write() => _device.WriteAsync(0, _buffer);
}
