using Etcdserverpb;
using BlockSim.KeyStore.Media;

namespace BlockSim.KeyStore.Etcd;

/// <summary>
/// A key store in etcd, one for a fleet: the store (slots, body and MAC) under one key and the audit chain
/// beside it (<see cref="EtcdAuditStorage"/>). A request reads the store and the audit head in one read and
/// commits its records, the new head and the store in one transaction that compares both revisions it read,
/// so two hosts changing keys at once never lose an update and never fork the chain: the loser's commit
/// writes nothing (<see cref="KeyStoreConflictException"/>) and the store runs its request again. No lock is
/// taken for that; etcd's lock (on a lease) only keeps re-keys apart, whose key files live beside the commit.
/// </summary>
public sealed class EtcdKeyStoreMedium : IKeyStoreMedium
{
    private static readonly TimeSpan s_lockWait = TimeSpan.FromSeconds(20);
    private const long LockLeaseSeconds = 15;
    private readonly EtcdConnection _etcd;
    private readonly EtcdAuditStorage _audit;
    private long _storeRevision;

    /// <summary>The lease of etcd's lock while this request holds it; 0 when it does not.</summary>
    private long _held;

    /// <param name="tls">TLS to the members (their CA, and a client certificate for --client-cert-auth); null for plain gRPC.</param>
    public EtcdKeyStoreMedium(EtcdStoreAddress address, EtcdTls? tls = null)
    {
        Address = address;
        _etcd = new EtcdConnection(address, tls);
        _audit = new EtcdAuditStorage(_etcd);
    }

    /// <summary>Opens the store at <paramref name="address"/> (etcd://HOST:PORT[,...]/PREFIX).</summary>
    public EtcdKeyStoreMedium(string address, EtcdTls? tls = null)
        : this(EtcdStoreAddress.Parse(address), tls)
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
    /// A request begins: nothing staged, everything read afresh. No lock (the commit compares), unless
    /// <paramref name="exclusive"/>, or another writer turns out to hold it when the store is read.
    /// </summary>
    public IDisposable Lock(bool exclusive = false)
    {
        _audit.BeginRequest();
        var request = new Request(this);
        if (exclusive)
        {
            _held = TakeLock();
        }

        return request;
    }

    /// <summary>etcd's lock for a re-key: the one this request holds already, or taken now until disposed.</summary>
    public IDisposable LockForReKey()
    {
        if (_held != 0)
        {
            return NoLock.Instance;
        }

        _held = TakeLock();
        return new Held(this);
    }

    /// <summary>
    /// etcd's lock on a lease of its own (15 s): released by revoking the lease, and by etcd itself when the
    /// process dies holding it. Waits up to 20 s (longer than a dead holder's lease) for another holder.
    /// </summary>
    private long TakeLock()
    {
        var lease = _etcd.Call("take its lock", deadline => _etcd.Client.LeaseGrant(new LeaseGrantRequest { TTL = LockLeaseSeconds }, deadline: deadline)).ID;
        try
        {
            _etcd.Client.Lock(Address.LockName, lease, deadline: DateTime.UtcNow + s_lockWait);
            return lease;
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

    /// <summary>
    /// The one copy, read with the audit head in one read; the commit compares the revisions of both. Where
    /// another writer holds etcd's lock (it lost the race too often), this request waits for its turn and
    /// reads again, so the holder is not starved.
    /// </summary>
    public IReadOnlyList<StoreCopy> ReadCopies()
    {
        var read = ReadStoreHeadAndLock();
        if (_held == 0 && read.Responses[2].ResponseRange.Count > 0)
        {
            _held = TakeLock();
            read = ReadStoreHeadAndLock();
        }

        var store = read.Responses[0].ResponseRange.Kvs.FirstOrDefault();
        _storeRevision = store?.ModRevision ?? 0;
        _audit.Remember(read.Responses[1].ResponseRange.Kvs.FirstOrDefault());
        return [new StoreCopy(Address.StoreKey, store?.Value.ToByteArray())];
    }

    private TxnResponse ReadStoreHeadAndLock() => _etcd.Call("read the store", deadline => _etcd.Client.Transaction(
        new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestRange = new RangeRequest { Key = EtcdKeys.Bytes(Address.StoreKey) } },
                new RequestOp { RequestRange = new RangeRequest { Key = EtcdKeys.Bytes(Address.AuditHeadKey) } },
                new RequestOp { RequestRange = new RangeRequest { Key = EtcdKeys.Bytes(Address.LockName + "/"), RangeEnd = EtcdKeys.RangeEnd(Address.LockName + "/"), CountOnly = true } },
            },
        },
        deadline: deadline));

    /// <summary>
    /// One transaction: the records and head this request appended, and the store, only while neither the
    /// store nor the head has changed since this request read them.
    /// </summary>
    public void WriteStore(byte[] serialized, Action<string>? crashPoint)
    {
        var (records, head) = _audit.Staged();
        var commit = new TxnRequest
        {
            Compare = { EtcdKeys.Unchanged(Address.StoreKey, _storeRevision), EtcdKeys.Unchanged(Address.AuditHeadKey, _audit.HeadRevision) },
        };
        foreach (var (key, line) in records)
        {
            commit.Compare.Add(EtcdKeys.Absent(key));
            commit.Success.Add(EtcdKeys.Put(key, line));
        }

        if (head is not null)
        {
            commit.Success.Add(EtcdKeys.Put(Address.AuditHeadKey, System.Text.Encoding.ASCII.GetBytes(head)));
        }

        commit.Success.Add(EtcdKeys.Put(Address.StoreKey, serialized));
        TxnResponse response;
        try
        {
            response = _etcd.Call("commit a change", deadline => _etcd.Client.Transaction(commit, deadline: deadline), changes: true);
        }
        catch
        {
            _audit.Discard();
            throw;
        }

        if (!response.Succeeded)
        {
            _audit.Discard();
            throw new KeyStoreConflictException($"The key store in {Location} was changed by another writer since this request read it, so nothing was written.");
        }

        _storeRevision = response.Header.Revision;
        _audit.Committed(response.Header.Revision);
    }

    public void Dispose() => _etcd.Dispose();

    public override string ToString() => Location;

    /// <summary>Gives etcd's lock back, if this request holds it.</summary>
    private void Release()
    {
        if (_held != 0)
        {
            Revoke(_held);
            _held = 0;
        }
    }

    private sealed class Held(EtcdKeyStoreMedium medium) : IDisposable
    {
        public void Dispose() => medium.Release();
    }

    /// <summary>Ends a request: records staged but never committed (a failed commit's follow-ups) are dropped, and a lock taken is given back.</summary>
    private sealed class Request(EtcdKeyStoreMedium medium) : IDisposable
    {
        public void Dispose()
        {
            medium._audit.Discard();
            medium.Release();
        }
    }
}
