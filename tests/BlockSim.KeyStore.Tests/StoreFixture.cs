using System.Text.Json;
using BlockSim.KeyStore.Sealing;
using BlockSim.Storage.Tests;

namespace BlockSim.KeyStore.Tests;

/// <summary>A clock tests can move.</summary>
public sealed class ManualClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>A fresh store (key-file unlocker) in a temporary directory.</summary>
public sealed class StoreFixture : IDisposable
{
    public static readonly KeyRequestContext Admin = new("user:admin");
    public static readonly KeyRequestContext Alice = new("user:alice");
    public static readonly KeyRequestContext DaemonForAdmin = new("user:admin", "blocksim-daemon");

    public StoreFixture()
    {
        KeyFile = KeyFileUnlocker.Create(Temp.File("store.key"));
        Store = SealedKeyStore.Create(StorePath, KeyFile, Admin.Principal, Clock);
    }

    public TempDirectory Temp { get; } = new();

    public ManualClock Clock { get; } = new();

    public KeyFileUnlocker KeyFile { get; }

    public string StorePath => Temp.File("store");

    public SealedKeyStore Store { get; private set; }

    public SealedKeyStore Reopen()
    {
        Store.Dispose();
        Store = SealedKeyStore.Open(StorePath, KeyFile, Clock);
        return Store;
    }

    public static Dictionary<string, string> Context(string volumeId) => new() { ["volumeId"] = volumeId };

    /// <summary>The event names of the audit log, in order.</summary>
    public IReadOnlyList<(string Name, string? Error)> AuditEvents() =>
        File.ReadAllLines(Store.AuditLogPath)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Select(e => (e.GetProperty("eventName").GetString()!, e.TryGetProperty("errorCode", out var c) ? c.GetString() : null))
            .ToList();

    /// <summary>The records of the audit log (every segment), in order, as JSON.</summary>
    public IReadOnlyList<JsonElement> AuditRecords() =>
        Store.AuditLogFiles.SelectMany(File.ReadAllLines).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();

    public void Dispose()
    {
        Store.Dispose();
        Temp.Dispose();
    }
}
