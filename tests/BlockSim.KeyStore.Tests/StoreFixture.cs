using System.Text.Json;
using BlockSim.KeyStore.Etcd;
using BlockSim.KeyStore.Media;
using BlockSim.KeyStore.Sealing;
using BlockSim.Storage.Tests;

namespace BlockSim.KeyStore.Tests;

/// <summary>A clock tests can move.</summary>
public sealed class ManualClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>A fresh store (key-file unlocker) in a temporary directory, or under a prefix of its own in etcd.</summary>
public sealed class StoreFixture : IDisposable
{
    private readonly string? _etcdAddress;

    public static readonly KeyRequestContext Admin = new("user:admin");
    public static readonly KeyRequestContext Alice = new("user:alice");
    public static readonly KeyRequestContext DaemonForAdmin = new("user:admin", "blocksim-daemon");

    public StoreFixture()
    {
        KeyFile = KeyFileUnlocker.Create(Temp.File("store.key"));
        Store = SealedKeyStore.Create(StorePath, KeyFile, Admin.Principal, Clock);
    }

    /// <summary>A fresh store in <paramref name="etcd"/> (skipped, or failed under BLOCKSIM_REQUIRE_INTEROP=1, without etcd).</summary>
    public StoreFixture(EtcdCluster etcd)
    {
        etcd.Require();
        _etcdAddress = etcd.NewStoreAddress();
        KeyFile = KeyFileUnlocker.Create(Temp.File("store.key"));
        Store = SealedKeyStore.Create(NewMedium(), KeyFile, Admin.Principal, Clock);
    }

    /// <summary>The store's medium, opened again (a directory, or a new etcd client on the store's prefix).</summary>
    public IKeyStoreMedium NewMedium() =>
        _etcdAddress is null ? new DirectoryKeyStoreMedium(StorePath) : new EtcdKeyStoreMedium(_etcdAddress);

    /// <summary>Another process's view: the same store opened again, on a medium of its own.</summary>
    public SealedKeyStore OpenAnother(Unlocker? unlocker = null) => SealedKeyStore.Open(NewMedium(), unlocker ?? KeyFile, Clock);

    public TempDirectory Temp { get; } = new();

    public ManualClock Clock { get; } = new();

    public KeyFileUnlocker KeyFile { get; }

    public string StorePath => Temp.File("store");

    public SealedKeyStore Store { get; private set; }

    public SealedKeyStore Reopen()
    {
        Store.Dispose();
        Store = SealedKeyStore.Open(NewMedium(), KeyFile, Clock);
        return Store;
    }

    public static Dictionary<string, string> Context(string volumeId) => new() { ["volumeId"] = volumeId };

    /// <summary>The event names of the audit log, in order.</summary>
    public IReadOnlyList<(string Name, string? Error)> AuditEvents() =>
        Store.AuditTail(int.MaxValue)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Select(e => (e.GetProperty("eventName").GetString()!, e.TryGetProperty("errorCode", out var c) ? c.GetString() : null))
            .ToList();

    /// <summary>The records of the audit log (every segment), in order, as JSON.</summary>
    public IReadOnlyList<JsonElement> AuditRecords() =>
        Store.AuditTail(int.MaxValue).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();

    public void Dispose()
    {
        Store.Dispose();
        Temp.Dispose();
    }
}
