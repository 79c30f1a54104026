using BlockSim.Storage;
using BlockSim.Storage.Devices;

namespace BlockSim.Benchmarks;

internal static class BenchmarkDevices
{
    /// <summary>A memory device, plain or under XTS-AES-256 with 4 KiB sectors (a random key, the process's tier).</summary>
    public static IBlockDevice Memory(long capacity, bool encrypted)
    {
        var memory = new MemoryBlockDevice(capacity);
        return encrypted ? EncryptedBlockDevice.WithEphemeralKey(memory, 4096) : memory;
    }
}
