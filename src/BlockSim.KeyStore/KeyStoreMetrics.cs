using System.Diagnostics.Metrics;

namespace BlockSim.KeyStore;

/// <summary>Key-store calls by operation and outcome (meter <see cref="MeterName"/>), counted where each is audited.</summary>
public static class KeyStoreMetrics
{
    public const string MeterName = "BlockSim.KeyStore";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Counter<long> s_requests = s_meter.CreateCounter<long>("blocksim.keystore.requests", "{request}", "Key-store requests, by operation and outcome (ok, or the error code).");

    internal static void Request(string operation, string? errorCode) =>
        s_requests.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("outcome", errorCode ?? "ok"));
}
