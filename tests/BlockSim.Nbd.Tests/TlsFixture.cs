using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using BlockSim.Nbd.Tls;

namespace BlockSim.Nbd.Tests;

/// <summary>
/// Credentials for TLS tests, made by the same CA code 'blocksim tls init' uses: a CA with a server
/// certificate and clients alice and bob, and a second, unrelated CA with a client eve.
/// </summary>
public sealed class TlsFixture : IDisposable
{
    public TlsFixture()
    {
        Root = Directory.CreateTempSubdirectory("blocksim-tls-").FullName;
        using (var ca = PrivateCertificateAuthority.Create(Ca, ["localhost", "127.0.0.1"], days: 2))
        {
            ca.IssueClient("alice", days: 2);
            ca.IssueClient("bob", days: 2);
        }

        using var other = PrivateCertificateAuthority.Create(OtherCa, ["localhost"], days: 2);
        other.IssueClient("eve", days: 2);
    }

    public string Root { get; }

    public string Ca => Path.Combine(Root, "ca");

    public string OtherCa => Path.Combine(Root, "other");

    public TlsCredentials Credentials(bool verifyClients = true, bool requireClientCertificate = false) =>
        new(Path.Combine(Ca, "server-cert.pem"), Path.Combine(Ca, "server-key.pem"), verifyClients ? Path.Combine(Ca, "ca-cert.pem") : null, requireClientCertificate);

    /// <summary>
    /// A client that trusts only <paramref name="trustedCaDirectory"/> (default: the server's CA) and presents
    /// the certificate of <paramref name="client"/> from <paramref name="issuingCaDirectory"/>, or none.
    /// </summary>
    public SslClientAuthenticationOptions Client(string? client, string? issuingCaDirectory = null, string? trustedCaDirectory = null) =>
        ClientOptions(trustedCaDirectory ?? Ca, client, issuingCaDirectory ?? Ca);

    /// <summary>
    /// Client TLS options for a directory 'blocksim tls init' wrote: trust its ca-cert.pem only, and present
    /// the certificate of <paramref name="client"/> (from <paramref name="issuingCaDirectory"/>, default the same), or none.
    /// </summary>
    public static SslClientAuthenticationOptions ClientOptions(string trustedCaDirectory, string? client, string? issuingCaDirectory = null)
    {
        var trusted = new X509Certificate2Collection();
        trusted.ImportFromPemFile(Path.Combine(trustedCaDirectory, "ca-cert.pem"));
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck },
        };
        options.CertificateChainPolicy.CustomTrustStore.AddRange(trusted);
        if (client is not null)
        {
            var directory = PrivateCertificateAuthority.ClientDirectory(issuingCaDirectory ?? trustedCaDirectory, client);
            options.ClientCertificates = [X509Certificate2.CreateFromPemFile(Path.Combine(directory, "client-cert.pem"), Path.Combine(directory, "client-key.pem"))];
        }

        return options;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
