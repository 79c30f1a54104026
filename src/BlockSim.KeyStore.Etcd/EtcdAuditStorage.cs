using Mvccpb;
using BlockSim.KeyStore.Media;

namespace BlockSim.KeyStore.Etcd;

/// <summary>
/// The audit chain in etcd: one key per record (PREFIX/audit/records/ and the sequence, zero-padded so that
/// key order is chain order) and the head. A request's records and the new head are staged here and
/// committed by the medium in the same transaction as the store, only while the head is the one the request
/// read: the head never lags a record, and two writers can never both append after one head.
/// </summary>
internal sealed class EtcdAuditStorage(EtcdConnection etcd) : IAuditStorage
{
    private const int PageSize = 500;
    private readonly List<(string Key, byte[] Line)> _staged = [];
    private string? _stagedHead;
    private bool _headRead;
    private string? _head;

    private EtcdStoreAddress Address => etcd.Address;

    public string Location => $"{Address}/audit";

    public string HeadName => Address.AuditHeadKey;

    /// <summary>The head's revision as this request read it (0: no head yet); the commit compares it.</summary>
    public long HeadRevision { get; private set; }

    /// <summary>Largest closed segment written (etcd takes requests up to 1.5 MiB).</summary>
    internal int SegmentBytes { get; set; } = 1 << 20;

    /// <summary>The closed segments (PREFIX/audit/segments/ and the first record's sequence), oldest first, then the live records.</summary>
    public IReadOnlyList<string> Segments()
    {
        var closed = etcd.Call("read the audit log", deadline => etcd.Client.Get(KeysOnly(EtcdKeys.Page(Address.AuditSegmentPrefix, Address.AuditSegmentPrefix, 0)), deadline: deadline));
        return [.. closed.Kvs.Select(kv => kv.Key.ToStringUtf8()), Address.AuditRecordPrefix];
    }

    private static Etcdserverpb.RangeRequest KeysOnly(Etcdserverpb.RangeRequest request)
    {
        request.KeysOnly = true;
        return request;
    }

    public IReadOnlyList<string> ReadLines(string segment)
    {
        if (segment != Address.AuditRecordPrefix)
        {
            var kv = etcd.Call("read an audit segment", deadline => etcd.Client.Get(segment, deadline: deadline)).Kvs.FirstOrDefault();
            return kv is null ? [] : kv.Value.ToStringUtf8().Split('\n');
        }

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

    /// <summary>
    /// All live records but the last <paramref name="keepLast"/> go into segments of at most
    /// <see cref="SegmentBytes"/>, each in one transaction: the segment written and its records deleted
    /// together, so a record is always in exactly one place.
    /// </summary>
    public AuditArchive Archive(int keepLast)
    {
        var live = new List<(string Key, string Line)>();
        var from = Address.AuditRecordPrefix;
        while (true)
        {
            var page = etcd.Call("read the audit log", deadline => etcd.Client.Get(EtcdKeys.Page(Address.AuditRecordPrefix, from, PageSize), deadline: deadline));
            live.AddRange(page.Kvs.Select(kv => (kv.Key.ToStringUtf8(), kv.Value.ToStringUtf8())));
            if (!page.More || page.Kvs.Count == 0)
            {
                break;
            }

            from = page.Kvs[^1].Key.ToStringUtf8() + "\0";
        }

        var moving = live.Take(Math.Max(0, live.Count - keepLast)).ToList();
        var segments = new List<string>();
        for (var start = 0; start < moving.Count;)
        {
            var end = start;
            var bytes = 0;
            while (end < moving.Count && (end == start || bytes + moving[end].Line.Length + 1 <= SegmentBytes))
            {
                bytes += moving[end].Line.Length + 1;
                end++;
            }

            var chunk = moving[start..end];
            var segment = Address.AuditSegmentPrefix + chunk[0].Key[Address.AuditRecordPrefix.Length..];
            var move = new Etcdserverpb.TxnRequest { Compare = { EtcdKeys.Absent(segment) } };
            move.Success.Add(EtcdKeys.Put(segment, System.Text.Encoding.UTF8.GetBytes(string.Join('\n', chunk.Select(c => c.Line)))));
            move.Success.Add(new Etcdserverpb.RequestOp
            {
                RequestDeleteRange = new Etcdserverpb.DeleteRangeRequest { Key = EtcdKeys.Bytes(chunk[0].Key), RangeEnd = EtcdKeys.Bytes(chunk[^1].Key + "\0") },
            });
            var moved = etcd.Call("archive audit records", deadline => etcd.Client.Transaction(move, deadline: deadline), changes: true);
            if (!moved.Succeeded)
            {
                throw new IOException($"{segment} exists already: another archive ran at the same time; run audit verify, then archive again.");
            }

            segments.Add(segment);
            start = end;
        }

        return new AuditArchive(moving.Count, segments);
    }

    /// <summary>A new request: nothing staged, the head to be read afresh.</summary>
    public void BeginRequest()
    {
        _staged.Clear();
        _stagedHead = null;
        _headRead = false;
    }

    /// <summary>The head as read with the store, in the same read (<see cref="EtcdKeyStoreMedium.ReadCopies"/>).</summary>
    public void Remember(KeyValue? head)
    {
        _head = head?.Value.ToStringUtf8();
        HeadRevision = head?.ModRevision ?? 0;
        _headRead = true;
    }

    public string? ReadHead()
    {
        if (_stagedHead is not null)
        {
            return _stagedHead;
        }

        if (!_headRead)
        {
            Remember(etcd.Call("read the audit head", deadline => etcd.Client.Get(Address.AuditHeadKey, deadline: deadline)).Kvs.FirstOrDefault());
        }

        return _head;
    }

    /// <summary>Never called: the head is written with its record, so it never lags one (see <see cref="LastLine"/>).</summary>
    public void WriteHead(string head) => _stagedHead = head;

    /// <summary>Null: there is never a record past the head to catch up over (they are committed together).</summary>
    public byte[]? LastLine() => null;

    public void Append(long sequence, byte[] line, string head)
    {
        _ = ReadHead(); // the commit compares the head this append follows
        _staged.Add((Address.AuditRecordKey(sequence), line));
        _stagedHead = head;
    }

    /// <summary>The staged records and head for the commit; null head when nothing was appended.</summary>
    public (IReadOnlyList<(string Key, byte[] Line)> Records, string? Head) Staged() => (_staged, _stagedHead);

    /// <summary>The commit landed at <paramref name="revision"/>: its head is now the head.</summary>
    public void Committed(long revision)
    {
        if (_stagedHead is not null)
        {
            _head = _stagedHead;
            HeadRevision = revision;
        }

        _staged.Clear();
        _stagedHead = null;
    }

    /// <summary>The commit did not land (or may not have): what was staged is dropped and the head read again.</summary>
    public void Discard() => BeginRequest();
}
