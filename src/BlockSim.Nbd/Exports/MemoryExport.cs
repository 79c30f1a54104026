using BlockSim.Storage.Devices;

namespace BlockSim.Nbd.Exports;

/// <summary>A sparse in-memory export (see <see cref="MemoryBlockDevice"/>): for tests, benchmarks and experiments.</summary>
public sealed class MemoryExport(string name, long size, string? description = null, bool readOnly = false)
    : BlockDeviceExport(name, new MemoryBlockDevice(size, readOnly), description)
{
    public long AllocatedBytes => ((MemoryBlockDevice)Device).AllocatedBytes;
}
