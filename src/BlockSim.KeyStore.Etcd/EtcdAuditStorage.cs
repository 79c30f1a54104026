using System.Text;
using Etcdserverpb;
using BlockSim.KeyStore.Media;

namespace BlockSim.KeyStore.Etcd;

/// <summary>
/// The audit chain in etcd: one key per record (PREFIX/audit/records/ and the sequence, zero-padded so that
/// key order is chain order) and the head, a record and its head written in one transaction that compares
/// the head read, so the head never lags a record and two writers can never both append after one head.
/// </summary>
internal sealed class EtcdAuditStorage(EtcdConnection etcd) : IAuditStorage
{
    private const int PageSize = 500;
    private long _headRevision;

    private EtcdStoreAddress Address => etcd.Address;

    public string Location => $"{Address}/audit";

    public string HeadName => Address.AuditHeadKey;

    /// <summary>One segment: every record, in order (archiving into segments of their own is still to come).</summary>
    public IReadOnlyList<string> Segments() => [Address.AuditRecordPrefix];

    public IReadOnlyList<string> ReadLines(string segment)
    {
        var lines = new List<string>();
        var from = Address.AuditRecordPrefix;
        while (true)
        {
            var page = etcd.Call("read the audit log", deadline => etcd.Client.Get(EtcdKeys.Page(Address.AuditRecordPrefix, from, PageSize), deadline: deadline));
            lines.AddRange(page.Kvs.Select(kv => kv.Value.ToStringUtf8()));
            if (!page.More || page.Kvs.Count == 0)
            {
                return lines;
            }

            from = page.Kvs[^1].Key.ToStringUtf8() + "\0"; // the next key after the last one read
        }
    }

    public string? ReadHead()
    {
        var kv = etcd.Call("read the audit head", deadline => etcd.Client.Get(Address.AuditHeadKey, deadline: deadline)).Kvs.FirstOrDefault();
        _headRevision = kv?.ModRevision ?? 0;
        return kv?.Value.ToStringUtf8();
    }

    public void WriteHead(string head) => Commit("move the audit head", [EtcdKeys.Put(Address.AuditHeadKey, Encoding.ASCII.GetBytes(head))], []);

    public byte[]? LastLine()
    {
        var last = etcd.Call("read the audit log", deadline => etcd.Client.Get(EtcdKeys.Page(Address.AuditRecordPrefix, Address.AuditRecordPrefix, 1, descending: true), deadline: deadline));
        return last.Kvs.FirstOrDefault()?.Value.ToByteArray();
    }

    public void Append(long sequence, byte[] line, string head)
    {
        var record = Address.AuditRecordKey(sequence);
        Commit(
            "write an audit record",
            [EtcdKeys.Put(record, line), EtcdKeys.Put(Address.AuditHeadKey, Encoding.ASCII.GetBytes(head))],
            [EtcdKeys.Absent(record)]);
    }

    /// <summary>The operations in one transaction, made only while the head is as it was read (and <paramref name="also"/> holds).</summary>
    private void Commit(string what, RequestOp[] operations, Compare[] also)
    {
        var request = new TxnRequest { Compare = { EtcdKeys.Unchanged(Address.AuditHeadKey, _headRevision) } };
        request.Compare.Add(also);
        request.Success.Add(operations);
        var response = etcd.Call(what, deadline => etcd.Client.Transaction(request, deadline: deadline), changes: true);
        if (!response.Succeeded)
        {
            throw new IOException($"The audit log in {Location} was appended to by another writer since this request read its head (the store's lock was lost), so no record was written.");
        }

        _headRevision = response.Header.Revision;
    }
}
