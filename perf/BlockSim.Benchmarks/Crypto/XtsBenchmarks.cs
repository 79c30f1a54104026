using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BlockSim.Crypto;

namespace BlockSim.Benchmarks.Crypto;

/// <summary>
/// XTS-AES-256 per tier, in place as the storage layer uses it. 512 and 4096 are one sector of that size;
/// 65536 is a 64 KiB request of sixteen 4 KiB sectors (the multi-sector path with batched tweaks).
/// </summary>
[MemoryDiagnoser]
public class XtsBenchmarks
{
    private XtsAes256 _xts = null!;
    private byte[] _buffer = null!;
    private int _sectorSize;

    public static IEnumerable<XtsTier> Tiers => XtsTiers.Supported;

    [ParamsSource(nameof(Tiers))]
    public XtsTier Tier { get; set; }

    [Params(512, 4096, 65536)]
    public int Bytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var key = RandomNumberGenerator.GetBytes(XtsAes256.KeySize);
        _xts = new XtsAes256(key, Tier);
        CryptographicOperations.ZeroMemory(key);
        _buffer = RandomNumberGenerator.GetBytes(Bytes);
        _sectorSize = Math.Min(Bytes, 4096);
    }

    [GlobalCleanup]
    public void Cleanup() => _xts.Dispose();

    [Benchmark]
    public void Encrypt() => _xts.EncryptSectors(_buffer, 1234, _sectorSize);

    [Benchmark]
    public void Decrypt() => _xts.DecryptSectors(_buffer, 1234, _sectorSize);
}
