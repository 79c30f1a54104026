using System.Text;
using Etcdserverpb;
using Google.Protobuf;

namespace BlockSim.KeyStore.Etcd;

/// <summary>The few request shapes the store uses, built once here so the medium reads as what it does.</summary>
internal static class EtcdKeys
{
    public static ByteString Bytes(string key) => ByteString.CopyFromUtf8(key);

    /// <summary>The end of the key range holding every key that starts with <paramref name="prefix"/>.</summary>
    public static ByteString RangeEnd(string prefix)
    {
        var end = Encoding.UTF8.GetBytes(prefix);
        end[^1]++; // prefixes here end in '/', never in 0xFF
        return ByteString.CopyFrom(end);
    }

    /// <summary>Keys under <paramref name="prefix"/> from <paramref name="from"/> on, in key order, at most <paramref name="limit"/>.</summary>
    public static RangeRequest Page(string prefix, string from, long limit, bool descending = false) => new()
    {
        Key = Bytes(from),
        RangeEnd = RangeEnd(prefix),
        Limit = limit,
        SortTarget = RangeRequest.Types.SortTarget.Key,
        SortOrder = descending ? RangeRequest.Types.SortOrder.Descend : RangeRequest.Types.SortOrder.Ascend,
    };

    /// <summary>True while <paramref name="key"/> has not been changed since revision <paramref name="modRevision"/> (0: it does not exist).</summary>
    public static Compare Unchanged(string key, long modRevision) => new()
    {
        Key = Bytes(key),
        Target = Compare.Types.CompareTarget.Mod,
        Result = Compare.Types.CompareResult.Equal,
        ModRevision = modRevision,
    };

    /// <summary>True while <paramref name="key"/> does not exist.</summary>
    public static Compare Absent(string key) => new()
    {
        Key = Bytes(key),
        Target = Compare.Types.CompareTarget.Create,
        Result = Compare.Types.CompareResult.Equal,
        CreateRevision = 0,
    };

    public static RequestOp Put(string key, ReadOnlySpan<byte> value) => new()
    {
        RequestPut = new PutRequest { Key = Bytes(key), Value = ByteString.CopyFrom(value) },
    };
}
