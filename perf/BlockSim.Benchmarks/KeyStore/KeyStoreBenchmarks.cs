using BenchmarkDotNet.Attributes;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.Benchmarks.KeyStore;

/// <summary>
/// The key store's Decrypt of a wrapped 64-byte volume key, as the daemon makes it when a client attaches:
/// load and authenticate the store, evaluate the policy and grants, unwrap, and write and fsync the audit
/// record before the key is released. An attach-time cost, not a per-request one.
/// </summary>
[MemoryDiagnoser]
public class KeyStoreBenchmarks
{
    private static readonly Dictionary<string, string> s_context = new() { ["volumeId"] = "bench" };
    private static readonly KeyRequestContext s_owner = new("user:bench");
    private readonly byte[] _key = new byte[64];
    private string _directory = null!;
    private SealedKeyStore _store = null!;
    private byte[] _wrapped = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("blocksim-bench-").FullName;
        _store = SealedKeyStore.Create(Path.Combine(_directory, "store"), KeyFileUnlocker.Create(Path.Combine(_directory, "store.key")), s_owner.Principal);
        _wrapped = _store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, s_context, 64, s_owner);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark]
    public void Decrypt() => _store.Decrypt(_wrapped, s_context, _key, s_owner);
}
