using System.Globalization;

namespace BlockSim.KeyStore.Etcd;

/// <summary>
/// Where a key store lives in etcd: <c>etcd://HOST:PORT[,HOST:PORT...]/PREFIX</c>, every member of the
/// cluster a client may ask (any one answering with quorum behind it will do), and the key prefix the
/// store's keys go under, so that one cluster can hold several stores (and other data) apart.
/// </summary>
public sealed record EtcdStoreAddress(IReadOnlyList<(string Host, int Port)> Members, string Prefix)
{
    public const string Scheme = "etcd://";

    /// <summary>True when <paramref name="value"/> names a store in etcd (whether or not it is well formed).</summary>
    public static bool IsEtcd(string value) => value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses an address; anything malformed is a Validation error that says what the form is.</summary>
    public static EtcdStoreAddress Parse(string value)
    {
        if (!IsEtcd(value))
        {
            throw Invalid(value, "it does not start with etcd://");
        }

        var rest = value[Scheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || slash == rest.Length - 1)
        {
            throw Invalid(value, "it names no key prefix after the members (etcd://127.0.0.1:2379/blocksim)");
        }

        var prefix = rest[slash..].TrimEnd('/');
        if (prefix.Contains("//", StringComparison.Ordinal) || prefix.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
        {
            throw Invalid(value, $"its prefix {prefix} has an empty part, a space or a control character");
        }

        var members = new List<(string, int)>();
        foreach (var member in rest[..slash].Split(','))
        {
            var colon = member.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(member[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw Invalid(value, $"'{member}' is not HOST:PORT with a port from 1 to 65535");
            }

            var host = member[..colon];
            if (host.Any(c => char.IsWhiteSpace(c) || c is '/' or '@' or '?' or '#'))
            {
                throw Invalid(value, $"'{host}' is not a host name or address");
            }

            members.Add((host, port));
        }

        return new EtcdStoreAddress(members, prefix);
    }

    private static KeyStoreException Invalid(string value, string why) => new(
        KeyStoreErrors.Validation,
        $"'{value}' is not a key store in etcd: {why}. Give etcd://HOST:PORT[,HOST:PORT...]/PREFIX, e.g. etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379/blocksim.");

    /// <summary>The store's key: slots, body and MAC together, changed only by a compare-and-swap.</summary>
    public string StoreKey => Prefix + "/keystore";

    /// <summary>The name of etcd's lock that keeps the store's writers apart.</summary>
    public string LockName => Prefix + "/lock";

    /// <summary>The audit chain's head.</summary>
    public string AuditHeadKey => Prefix + "/audit/head";

    /// <summary>Audit records, one key each, named so that etcd's key order is the chain's order.</summary>
    public string AuditRecordPrefix => Prefix + "/audit/records/";

    /// <summary>Closed segments of the audit log, each named for its first record's sequence.</summary>
    public string AuditSegmentPrefix => Prefix + "/audit/segments/";

    public string AuditRecordKey(long sequence) => AuditRecordPrefix + sequence.ToString("D20", CultureInfo.InvariantCulture);

    /// <summary>The members as the gRPC client takes them.</summary>
    public string ConnectionString(bool tls) =>
        string.Join(",", Members.Select(m => $"{(tls ? "https" : "http")}://{m.Host}:{m.Port}"));

    public override string ToString() => $"{Scheme}{string.Join(",", Members.Select(m => $"{m.Host}:{m.Port}"))}{Prefix}";
}
