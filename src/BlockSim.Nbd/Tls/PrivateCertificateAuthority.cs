using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BlockSim.Storage.Durability;

namespace BlockSim.Nbd.Tls;

/// <summary>
/// A small private certificate authority for testing and small deployments, in the file layout that qemu's
/// <c>tls-creds-x509</c> directories and libnbd's <c>tls-certificates=DIR</c> read:
/// <list type="bullet">
/// <item>DIR/ca-cert.pem: the CA certificate, which client certificates are verified against;</item>
/// <item>DIR/ca/ca-key.pem (with a copy of ca-cert.pem): the CA's private key, which signs further client
/// certificates. It is kept out of DIR itself, the directory <c>serve --tls-dir DIR</c> reads, so that the
/// served credentials can be copied to a server, or shown to the daemon, without the key that mints
/// identities; DIR/ca can be moved off the server and brought back to issue more;</item>
/// <item>DIR/server-cert.pem, DIR/server-key.pem: what <c>serve --tls-dir DIR</c> presents;</item>
/// <item>DIR/clients/NAME/{ca-cert.pem, client-cert.pem, client-key.pem}: one directory per client, subject
/// <c>CN=NAME</c>, to hand to that client.</item>
/// </list>
/// Keys are ECDSA P-256 in PKCS#8 PEM, written 0600 in 0700 directories; existing files are never overwritten.
/// </summary>
public sealed class PrivateCertificateAuthority : IDisposable
{
    private static readonly Oid s_serverAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid s_clientAuth = new("1.3.6.1.5.5.7.3.2");
    private static readonly UnixFileMode s_privateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly UnixFileMode s_privateDirectory = s_privateFile | UnixFileMode.UserExecute;

    private readonly string _directory;
    private readonly X509Certificate2 _ca;

    private PrivateCertificateAuthority(string directory, X509Certificate2 ca)
    {
        _directory = directory;
        _ca = ca;
    }

    public string CaCertificatePath => Path.Combine(_directory, "ca-cert.pem");

    public static string ClientDirectory(string directory, string name) => Path.Combine(directory, "clients", name);

    /// <summary>Where <see cref="Create"/> keeps the CA's private key: a directory of its own inside DIR.</summary>
    public static string KeyDirectory(string directory) => Path.Combine(directory, "ca");

    /// <summary>Why <paramref name="directory"/> cannot take new credentials (one of them is there), or null when it can.</summary>
    public static string? ExistingCredentials(string directory)
    {
        foreach (var name in new[] { "ca-cert.pem", "ca-key.pem", "ca/ca-key.pem", "server-cert.pem", "server-key.pem" })
        {
            if (File.Exists(Path.Combine(directory, name)))
            {
                return $"{Path.Combine(directory, name)} already exists; 'tls init' never overwrites credentials. Choose an empty directory, or add clients with 'blocksim tls client'.";
            }
        }

        return null;
    }

    /// <summary>Makes the CA and the server certificate (valid for <paramref name="serverNames"/>: host names or IP addresses).</summary>
    public static PrivateCertificateAuthority Create(string directory, IReadOnlyList<string> serverNames, int days)
    {
        Directory.CreateDirectory(directory, s_privateDirectory);
        if (ExistingCredentials(directory) is { } existing)
        {
            throw new IOException(existing);
        }

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=BlockSim CA {Environment.MachineName}", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        var ca = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(days));
        WritePublic(Path.Combine(directory, "ca-cert.pem"), ca.ExportCertificatePem());
        var keyDirectory = KeyDirectory(directory);
        Directory.CreateDirectory(keyDirectory, s_privateDirectory);
        WritePublic(Path.Combine(keyDirectory, "ca-cert.pem"), ca.ExportCertificatePem()); // the key's certificate travels with it
        WritePrivate(Path.Combine(keyDirectory, "ca-key.pem"), caKey);

        var authority = new PrivateCertificateAuthority(directory, ca); // a self-signed certificate comes with its key
        authority.Issue(serverNames.Count > 0 ? serverNames[0] : "localhost", server: true, serverNames, days, Path.Combine(directory, "server-cert.pem"), Path.Combine(directory, "server-key.pem"));
        return authority;
    }

    /// <summary>
    /// Opens the CA that <see cref="Create"/> wrote, to sign more client certificates: its key from DIR/ca, or
    /// from DIR itself where an older 'tls init' left it there.
    /// </summary>
    public static PrivateCertificateAuthority Open(string directory)
    {
        var certificate = Path.Combine(directory, "ca-cert.pem");
        var key = Path.Combine(KeyDirectory(directory), "ca-key.pem");
        if (!File.Exists(key) && File.Exists(Path.Combine(directory, "ca-key.pem")))
        {
            key = Path.Combine(directory, "ca-key.pem");
        }

        if (!File.Exists(certificate) || !File.Exists(key))
        {
            throw new FileNotFoundException($"No CA in {directory} (ca-cert.pem, and its key in {KeyDirectory(directory)}/ca-key.pem); make one with 'blocksim tls init {directory}', or put back the ca directory if it was moved away.");
        }

        try
        {
            return new PrivateCertificateAuthority(directory, X509Certificate2.CreateFromPemFile(certificate, key));
        }
        catch (CryptographicException e)
        {
            throw new IOException($"The CA in {directory} cannot be loaded: {e.Message}", e);
        }
    }

    /// <summary>Issues a client certificate with subject CN=<paramref name="name"/> into its own directory; returns that directory.</summary>
    public string IssueClient(string name, int days)
    {
        if (name.Length == 0 || name.IndexOfAny([.. Path.GetInvalidFileNameChars(), ',', '=', '+', '"', '\\', '<', '>', ';']) >= 0 || name is "." or "..")
        {
            throw new IOException($"Client name '{name}': use letters, digits, '-', '_' or '.', as it becomes CN={name} and a directory name.");
        }

        var directory = ClientDirectory(_directory, name);
        if (Directory.Exists(directory))
        {
            throw new IOException($"{directory} already exists; a client's certificate is never overwritten.");
        }

        Directory.CreateDirectory(Path.Combine(_directory, "clients"), s_privateDirectory);
        Directory.CreateDirectory(directory, s_privateDirectory);
        WritePublic(Path.Combine(directory, "ca-cert.pem"), _ca.ExportCertificatePem());
        Issue(name, server: false, [], days, Path.Combine(directory, "client-cert.pem"), Path.Combine(directory, "client-key.pem"));
        return directory;
    }

    public void Dispose() => _ca.Dispose();

    private void Issue(string commonName, bool server, IReadOnlyList<string> names, int days, string certificatePath, string keyPath)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([server ? s_serverAuth : s_clientAuth], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (server)
        {
            var alternativeNames = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                if (IPAddress.TryParse(name, out var address))
                {
                    alternativeNames.AddIpAddress(address);
                }
                else
                {
                    alternativeNames.AddDnsName(name);
                }
            }

            request.CertificateExtensions.Add(alternativeNames.Build());
        }

        var now = DateTimeOffset.UtcNow;
        var notAfter = now.AddDays(days) < _ca.NotAfter ? now.AddDays(days) : new DateTimeOffset(_ca.NotAfter);
        using var certificate = request.Create(_ca, now.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));
        WritePublic(certificatePath, certificate.ExportCertificatePem());
        WritePrivate(keyPath, key);
    }

    private static void WritePublic(string path, string pem) => File.WriteAllText(path, pem + "\n");

    /// <summary>
    /// PKCS#8 PEM, created 0600 from the start (never readable by others, even for a moment) and only if new;
    /// the encodings in memory are zeroed once written.
    /// </summary>
    private static void WritePrivate(string path, ECDsa key)
    {
        var der = key.ExportPkcs8PrivateKey();
        var pem = PemEncoding.Write("PRIVATE KEY", der);
        var bytes = new byte[System.Text.Encoding.ASCII.GetByteCount(pem) + 1];
        try
        {
            System.Text.Encoding.ASCII.GetBytes(pem, bytes);
            bytes[^1] = (byte)'\n';
            DurableFile.CreateNew(path, bytes); // 0600 from the start, and only if new
            DirectorySync.FlushParentOf(path);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
            CryptographicOperations.ZeroMemory(bytes);
            Array.Clear(pem);
        }
    }
}
