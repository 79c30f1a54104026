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
