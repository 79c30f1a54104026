using System.Text.Json;
using Etcdserverpb;

namespace BlockSim.KeyStore.Etcd;

/// <summary>A volume a daemon has open for writing, as it says so in etcd.</summary>
public sealed record VolumeLease(Guid VolumeId, string Volume, string Export, string Host, string Daemon, IReadOnlyList<string> Listeners, DateTimeOffset Since);

/// <summary>
/// Where each volume is served, fleet-wide: a serving daemon keeps one key per volume it has open for
/// writing under PREFIX/leases/volumes/, on an etcd lease it renews, so a daemon that dies drops out within
/// the lease's 10 s. Advisory only: etcd leases do not fence (a paused daemon can go on writing after its
/// lease ran out); for data on shared storage the fence is Ceph's exclusive lock.
/// </summary>
public sealed class EtcdVolumeLeases : IAsyncDisposable
{
    private const long LeaseSeconds = 10;
    private static readonly TimeSpan s_renewEvery = TimeSpan.FromSeconds(3);
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly EtcdConnection _etcd;
    private readonly Func<IReadOnlyList<VolumeLease>> _held;
    private readonly Action<string> _warn;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _renewing;
    private long _lease;
    private bool _warned;

    private EtcdVolumeLeases(EtcdStoreAddress address, EtcdTls? tls, Func<IReadOnlyList<VolumeLease>> held, Action<string> warn)
    {
        _etcd = new EtcdConnection(address, tls);
        _held = held;
        _warn = warn;
        Renew();
        _renewing = Task.Run(RenewLoopAsync);
    }

    /// <summary>Publishes what <paramref name="held"/> says now and every few seconds; <paramref name="warn"/> hears once when etcd stops answering, and once when it is back.</summary>
    public static EtcdVolumeLeases Start(EtcdStoreAddress address, EtcdTls? tls, Func<IReadOnlyList<VolumeLease>> held, Action<string> warn) =>
        new(address, tls, held, warn);

    /// <summary>Every volume some daemon says it serves, by volume then daemon.</summary>
    public static IReadOnlyList<VolumeLease> List(EtcdStoreAddress address, EtcdTls? tls)
    {
        using var etcd = new EtcdConnection(address, tls);
        var prefix = Prefix(address);
        var found = etcd.Call("list the volumes served", deadline => etcd.Client.Get(EtcdKeys.Page(prefix, prefix, 0), deadline: deadline));
        var leases = new List<VolumeLease>();
        foreach (var kv in found.Kvs)
        {
            if (TryParse(kv.Value.Span) is { } lease)
            {
                leases.Add(lease);
            }
        }

        return leases;
    }

    /// <summary>A lease as a daemon writes it, or null for anything else found under the prefix (never an exception).</summary>
    internal static VolumeLease? TryParse(ReadOnlySpan<byte> value)
    {
        try
        {
            return JsonSerializer.Deserialize<VolumeLease>(value, s_json) is { Volume: not null, Export: not null, Host: not null, Daemon: not null, Listeners: { } listeners } lease
                && listeners.All(l => l is not null)
                ? lease
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Prefix(EtcdStoreAddress address) => address.Prefix + "/leases/volumes/";

    private async Task RenewLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(s_renewEvery, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Renew();
        }
    }

    /// <summary>A new lease, every held volume's key put on it in one transaction, the old lease revoked.</summary>
    private void Renew()
    {
        try
        {
            var lease = _etcd.Call("publish the volumes served", deadline => _etcd.Client.LeaseGrant(new LeaseGrantRequest { TTL = LeaseSeconds }, deadline: deadline)).ID;
            var publish = new TxnRequest();
            foreach (var held in _held())
            {
                var key = $"{Prefix(_etcd.Address)}{held.VolumeId}/{held.Host}/{held.Daemon}";
                publish.Success.Add(new RequestOp
                {
                    RequestPut = new PutRequest { Key = EtcdKeys.Bytes(key), Value = Google.Protobuf.ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(held, s_json)), Lease = lease },
                });
            }

            _etcd.Call("publish the volumes served", deadline => _etcd.Client.Transaction(publish, deadline: deadline));
            var old = Interlocked.Exchange(ref _lease, lease);
            if (old != 0)
            {
                _etcd.Call("publish the volumes served", deadline => _etcd.Client.LeaseRevoke(new LeaseRevokeRequest { ID = old }, deadline: deadline));
            }

            if (_warned)
            {
                _warned = false;
                _warn("etcd answers again: the volumes this daemon serves are published again.");
            }
        }
        catch (KeyStoreException e) when (e.ErrorCode == KeyStoreErrors.StoreUnavailable)
        {
            if (!_warned)
            {
                _warned = true;
                _warn($"The volumes this daemon serves are not published in etcd (volume list elsewhere will not show them) until it answers: {e.Message}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _renewing.ConfigureAwait(false);
        if (_lease != 0)
        {
            try
            {
                _etcd.Call("withdraw the volumes served", deadline => _etcd.Client.LeaseRevoke(new LeaseRevokeRequest { ID = _lease }, deadline: deadline));
            }
            catch (KeyStoreException)
            {
                // The lease runs out by itself within its TTL.
            }
        }

        _etcd.Dispose();
        _stop.Dispose();
    }
}
