using dotnet_etcd;
using Grpc.Core;

namespace BlockSim.KeyStore.Etcd;

/// <summary>
/// One gRPC client to an etcd cluster, every call under a deadline. A call etcd does not answer (no member
/// reachable, or no quorum behind the member asked, which etcd shows as a call that never returns) is a
/// <see cref="KeyStoreErrors.StoreUnavailable"/> error naming the store: the request fails closed, and the
/// next one tries again, so everything resumes when etcd does, without a restart.
/// </summary>
internal sealed class EtcdConnection(EtcdStoreAddress address, EtcdTls? tls) : IDisposable
{
    private readonly EtcdClient _client = Connect(address, tls);

    /// <summary>How long one call may take before the request fails closed.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public EtcdClient Client => _client;

    public EtcdStoreAddress Address => address;

    /// <summary>Runs one call with a deadline; what etcd did not answer becomes a StoreUnavailable error saying <paramref name="what"/> was asked.</summary>
    public T Call<T>(string what, Func<DateTime, T> call, bool changes = false)
    {
        try
        {
            return call(DateTime.UtcNow + CallTimeout);
        }
        catch (RpcException e)
        {
            throw Unavailable(what, e, changes);
        }
    }

    /// <summary>The error for a call etcd did not answer (or refused); for a change, that whether it was made shows only later.</summary>
    public KeyStoreException Unavailable(string what, RpcException e, bool changes = false)
    {
        var why = e.StatusCode switch
        {
            StatusCode.DeadlineExceeded => $"no answer within {CallTimeout.TotalSeconds:0.#} s (no member reachable, or the cluster has no quorum)",
            StatusCode.Unavailable => "no member could be reached",
            _ => $"{e.StatusCode}: {e.Status.Detail}",
        };
        return new KeyStoreException(
            KeyStoreErrors.StoreUnavailable,
            $"The key store in {address} could not be reached to {what}: {why}. Requests fail closed until etcd answers again."
                + (changes ? " Whether this change was made shows once it does (the store and its audit log say)." : ""),
            e);
    }

    public void Dispose() => _client.Dispose();

    private static EtcdClient Connect(EtcdStoreAddress address, EtcdTls? tls)
    {
        // A passed deadline surfaces as RpcException(DeadlineExceeded), never as an OperationCanceledException
        // (the library's default, which would read as "cancelled" rather than "etcd did not answer").
        static void Channel(Grpc.Net.Client.GrpcChannelOptions options) => options.ThrowOperationCanceledOnCancellation = false;
        if (tls is null)
        {
            return new EtcdClient(address.ConnectionString(tls: false), configureChannelOptions: Channel);
        }

        var ssl = new System.Net.Security.SslClientAuthenticationOptions();
        tls.Apply(ssl); // read now, so a bad file is an error at open, not at the first request
        return new EtcdClient(
            address.ConnectionString(tls: true),
            options =>
            {
                options.ClientCertificates = ssl.ClientCertificates;
                options.CertificateChainPolicy = ssl.CertificateChainPolicy;
                options.CertificateRevocationCheckMode = ssl.CertificateRevocationCheckMode;
            },
            configureChannelOptions: Channel);
    }
}
