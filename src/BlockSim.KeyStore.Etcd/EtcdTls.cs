using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BlockSim.KeyStore.Etcd;

/// <summary>
/// TLS to etcd: the members' certificates must chain to <paramref name="CaFile"/> (and only to it: the
/// system's roots are not asked) and name the host dialled; with <paramref name="CertificateFile"/> and
/// <paramref name="KeyFile"/>, the client's certificate for etcd's --client-cert-auth. PEM files.
/// </summary>
public sealed record EtcdTls(string CaFile, string? CertificateFile = null, string? KeyFile = null)
{
    /// <summary>Fills in <paramref name="options"/>; a file missing or unreadable is a Validation error naming it.</summary>
    internal void Apply(SslClientAuthenticationOptions options)
    {
        var trusted = new X509Certificate2Collection();
        try
        {
            trusted.ImportFromPemFile(CaFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"The CA for the key store's etcd ({CaFile}) cannot be read as PEM certificates: {e.Message}", e);
        }

        if (trusted.Count == 0)
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"{CaFile} holds no certificate: give the CA that signed the etcd members' certificates (PEM).");
        }

        options.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        options.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        options.CertificateChainPolicy.CustomTrustStore.AddRange(trusted);
        if ((CertificateFile is null) != (KeyFile is null))
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, "A client certificate for etcd needs both its certificate and its private key (--key-store-cert and --key-store-key).");
        }

        if (CertificateFile is not null)
        {
            try
            {
                options.ClientCertificates = [X509Certificate2.CreateFromPemFile(CertificateFile, KeyFile)];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new KeyStoreException(KeyStoreErrors.Validation, $"The client certificate for the key store's etcd ({CertificateFile}, key {KeyFile}) cannot be read: {e.Message}", e);
            }
        }
    }
}
