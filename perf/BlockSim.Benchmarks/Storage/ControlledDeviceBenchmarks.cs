using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BlockSim.Storage;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation.Faults;

namespace BlockSim.Benchmarks.Storage;

/// <summary>
/// What the run-time control layer every served export now has costs a request when nothing is paused and
/// no rule is set (the common case), and with one rule elsewhere on the device: 4 KiB on a memory device,
/// bare and under <see cref="ControlledDevice"/>; and 128 KiB through the cipher over memory, bare and
/// controlled, where control must lend memory's pages so the cipher keeps its one-pass path.
/// </summary>
[MemoryDiagnoser]
public class ControlledDeviceBenchmarks
{
    private IBlockDevice _device = null!;
    private byte[] _buffer = null!;

    [Params("bare", "controlled", "rule elsewhere", "cipher bare", "cipher controlled")]
    public string Layer { get; set; } = "bare";

    [GlobalSetup]
    public void Setup()
    {
        var memory = new MemoryBlockDevice(64L << 20);
        var encrypted = Layer.StartsWith("cipher", StringComparison.Ordinal);
        _buffer = RandomNumberGenerator.GetBytes(encrypted ? 128 * 1024 : 4096);
        memory.WriteAsync(0, _buffer).AsTask().Wait();
        if (Layer is "bare" or "cipher bare")
        {
            _device = encrypted ? EncryptedBlockDevice.WithEphemeralKey(memory, 4096) : memory;
            return;
        }

        var control = new SimulationControl(seed: 1, memory.SectorSize, memory.Capacity);
        if (Layer == "rule elsewhere")
        {
            control.Add(new FaultRule { Kind = FaultKind.Error, Operations = FaultOperations.Read, FirstSector = 100_000, LastSector = 100_007 });
        }

        var controlled = new ControlledDevice(memory, control);
        _device = encrypted ? EncryptedBlockDevice.WithEphemeralKey(controlled, 4096) : controlled;
    }

    [GlobalCleanup]
    public void Cleanup() => _device.Dispose();

    [Benchmark]
    public ValueTask Read() => _device.ReadAsync(0, _buffer);

    [Benchmark]
    public ValueTask Write() => _device.WriteAsync(0, _buffer);
}
