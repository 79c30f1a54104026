using System.Diagnostics;
using System.Globalization;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Etcd;
using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Sealing;

namespace BlockSim.Benchmarks.KeyStore;

/// <summary>
/// The attach-time Decrypt's latency distribution (p50, p99, p99.9, max), which BenchmarkDotNet's mean does
/// not give: N Decrypts of a wrapped volume key, one after another as attaches come, on a store in a fresh
/// directory and, when etcd endpoints are given, on a store in etcd. Run by perf/keystore/decrypt-latency.sh,
/// which boots the etcd members.
/// </summary>
internal static class KeyStoreLatency
{
    private static readonly Dictionary<string, string> s_context = new() { ["volumeId"] = "bench" };
    private static readonly KeyRequestContext s_owner = new("user:bench");

    public static int Run(int count, string? etcdEndpoints)
    {
        var directory = Directory.CreateTempSubdirectory("blocksim-latency-").FullName;
        try
        {
            Measure("file store", count, new DirectoryKeyStoreMedium(Path.Combine(directory, "store")), Path.Combine(directory, "file.key"));
            if (etcdEndpoints is not null)
            {
                var address = $"etcd://{etcdEndpoints}/bench-{Guid.NewGuid():N}";
                Measure($"etcd store ({etcdEndpoints.Split(',').Length} members)", count, new EtcdKeyStoreMedium(address), Path.Combine(directory, "etcd.key"));
            }

            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Measure(string name, int count, IKeyStoreMedium medium, string keyFile)
    {
        using var store = SealedKeyStore.Create(medium, KeyFileUnlocker.Create(keyFile), s_owner.Principal);
        var wrapped = store.GenerateDataKeyWithoutPlaintext(SealedKeyStore.DefaultAlias, s_context, 64, s_owner);
        var key = new byte[64];
        for (var i = 0; i < Math.Min(50, count); i++)
        {
            store.Decrypt(wrapped, s_context, key, s_owner); // warm-up: JIT, connections
        }

        var samples = new double[count];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            store.Decrypt(wrapped, s_context, key, s_owner);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(samples);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {count} Decrypts, p50 {At(samples, 0.50):F2} ms, p99 {At(samples, 0.99):F2} ms, p99.9 {At(samples, 0.999):F2} ms, max {samples[^1]:F2} ms, mean {samples.Average():F2} ms"));
    }

    private static double At(double[] sorted, double quantile) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(quantile * sorted.Length) - 1)];
}
