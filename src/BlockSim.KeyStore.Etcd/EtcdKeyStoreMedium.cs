using Etcdserverpb;
using BlockSim.KeyStore.Media;

namespace BlockSim.KeyStore.Etcd;

/// <summary>
/// A key store in etcd, one for a fleet: the store (slots, body and MAC) under one key, changed only by a
/// transaction that compares the revision this process read, so two hosts changing keys at once never lose
/// an update; the audit chain beside it (<see cref="EtcdAuditStorage"/>); and etcd's lock, on a lease, to
/// keep writers apart. The lock is not what protects the store: a writer whose lease ran out (a paused
/// process) loses the lock, and its write then fails the compare and is refused, with nothing written.
/// </summary>
public sealed class EtcdKeyStoreMedium : IKeyStoreMedium
{
    private static readonly TimeSpan s_lockWait = TimeSpan.FromSeconds(10);
    private const long LockLeaseSeconds = 15;
    private readonly EtcdConnection _etcd;
    private readonly EtcdAuditStorage _audit;
    private long _storeRevision;

    public EtcdKeyStoreMedium(EtcdStoreAddress address)
    {
        Address = address;
        _etcd = new EtcdConnection(address);
        _audit = new EtcdAuditStorage(_etcd);
    }

    /// <summary>Opens the store at <paramref name="address"/> (etcd://HOST:PORT[,...]/PREFIX).</summary>
    public EtcdKeyStoreMedium(string address)
        : this(EtcdStoreAddress.Parse(address))
    {
    }

    public EtcdStoreAddress Address { get; }

    public string Location => Address.ToString();

    /// <summary>A store shared by hosts has no directory of its own: a key-file slot records its key file's full path.</summary>
    public string? KeyFileBase => null;

    public IAuditStorage Audit => _audit;

    public bool Exists() =>
        _etcd.Call("look for the store", deadline => _etcd.Client.Get(new RangeRequest { Key = EtcdKeys.Bytes(Address.StoreKey), CountOnly = true }, deadline: deadline)).Count > 0;

    public void Prepare()
    {
        // Nothing to make: etcd keys need no folder. Asking once says early whether etcd answers.
        _ = Exists();
    }

    /// <summary>
    /// etcd's lock on a lease of its own (15 s): released by revoking the lease, and by etcd itself when the
    /// process dies holding it. Waits up to 10 s for another holder.
    /// </summary>
    public IDisposable Lock()
    {
        var lease = _etcd.Call("take its lock", deadline => _etcd.Client.LeaseGrant(new LeaseGrantRequest { TTL = LockLeaseSeconds }, deadline: deadline)).ID;
        try
        {
            _etcd.Client.Lock(Address.LockName, lease, deadline: DateTime.UtcNow + s_lockWait);
            return new Held(this, lease);
        }
        catch (Grpc.Core.RpcException e)
        {
            Revoke(lease);
            if (e.StatusCode == Grpc.Core.StatusCode.DeadlineExceeded && AnswersNow())
            {
                throw new IOException($"Another process held the key store's lock ({Address.LockName} in etcd) for {s_lockWait.TotalSeconds:0} s; try again.", e);
            }

            throw _etcd.Unavailable("take its lock", e);
        }
        catch
        {
            Revoke(lease);
            throw;
        }
    }

    private bool AnswersNow()
    {
        try
        {
            _ = Exists();
            return true;
        }
        catch (KeyStoreException)
        {
            return false;
        }
    }

    /// <summary>Ends a lease and what it holds; a lease etcd cannot be told about ends by itself within its TTL.</summary>
    private void Revoke(long lease)
    {
        try
        {
            _etcd.Client.LeaseRevoke(new LeaseRevokeRequest { ID = lease }, deadline: DateTime.UtcNow + _etcd.CallTimeout);
        }
        catch (Grpc.Core.RpcException)
        {
            // The lease runs out within LockLeaseSeconds, and the lock with it.
        }
    }

    /// <summary>The one copy, and the revision it was read at (the next write compares it).</summary>
    public IReadOnlyList<StoreCopy> ReadCopies()
    {
        var response = _etcd.Call("read the store", deadline => _etcd.Client.Get(Address.StoreKey, deadline: deadline));
        var kv = response.Kvs.FirstOrDefault();
        _storeRevision = kv?.ModRevision ?? 0;
        return [new StoreCopy(Address.StoreKey, kv?.Value.ToByteArray())];
    }

    public void WriteStore(byte[] serialized, Action<string>? crashPoint)
    {
        var response = _etcd.Call("write the store", deadline => _etcd.Client.Transaction(
            new TxnRequest
            {
                Compare = { EtcdKeys.Unchanged(Address.StoreKey, _storeRevision) },
                Success = { EtcdKeys.Put(Address.StoreKey, serialized) },
            },
            deadline: deadline),
            changes: true);
        if (!response.Succeeded)
        {
            throw new IOException($"The key store in {Location} was changed by another writer since this request read it (its lock was lost: a pause longer than the lock's {LockLeaseSeconds} s lease), so nothing was written; try again.");
        }

        _storeRevision = response.Header.Revision;
    }

    public void Dispose() => _etcd.Dispose();

    public override string ToString() => Location;

    private sealed class Held(EtcdKeyStoreMedium medium, long lease) : IDisposable
    {
        public void Dispose() => medium.Revoke(lease);
    }
}
