using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BlockSim.Nbd.Tls;

/// <summary>
/// The server's TLS credentials: a certificate and its private key from PEM files (the certificate file may
/// carry intermediates after the leaf), and optionally a CA bundle that client certificates must chain to.
/// The files are checked for changes at every STARTTLS and re-read when they change, so a renewed
/// certificate takes effect without a restart; a file that cannot be read (say, half written) leaves the
/// previous credentials in use and is reported through <see cref="Refresh"/>.
/// </summary>
public sealed class TlsCredentials
{
    private static readonly Oid s_clientAuthentication = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    private readonly string _certificatePath;
    private readonly string _keyPath;
    private readonly string? _clientCaPath;
    private readonly Lock _reload = new();
    private volatile Loaded _current;

    /// <summary>Loads the files; a <see cref="TlsCredentialsException"/> says which one is wrong and why.</summary>
    public TlsCredentials(string certificatePath, string keyPath, string? clientCaPath = null, bool requireClientCertificate = false)
    {
        _certificatePath = Path.GetFullPath(certificatePath);
        _keyPath = Path.GetFullPath(keyPath);
        _clientCaPath = clientCaPath is null ? null : Path.GetFullPath(clientCaPath);
        if (requireClientCertificate && clientCaPath is null)
        {
            throw new TlsCredentialsException("Requiring client certificates needs a CA bundle to verify them against (clientCa).");
        }

        RequireClientCertificate = requireClientCertificate;
        _current = Load();
    }

    /// <summary>True when clients are asked for a certificate (a CA bundle is configured).</summary>
    public bool VerifiesClients => _clientCaPath is not null;

    /// <summary>True when a client without a verified certificate is refused during the TLS handshake.</summary>
    public bool RequireClientCertificate { get; }

    /// <summary>The subject of the server certificate now in use.</summary>
    public string ServerSubject => _current.Certificate.Subject;

    /// <summary>
    /// Re-reads the files if any changed since they were loaded. Returns null when the credentials in use are
    /// current, or a message when a changed file could not be loaded (the previous credentials stay in use).
    /// </summary>
    public string? Refresh()
    {
        var current = _current;
        if (current.Stamps.SequenceEqual(Stamps()))
        {
            return null;
        }

        lock (_reload)
        {
            if (!ReferenceEquals(current, _current))
            {
                return null; // another connection reloaded meanwhile
            }

            try
            {
                _current = Load();
                return null;
            }
            catch (TlsCredentialsException e)
            {
                return $"{e.Message} The previous certificate stays in use.";
            }
        }
    }

    /// <summary>
    /// Sets up the server side of one TLS handshake from the credentials now in use; once the handshake is
    /// done, the returned object tells who the client proved to be.
    /// </summary>
    internal ServerHandshake BeginHandshake()
    {
        var loaded = _current;
        var handshake = new ServerHandshake();
        handshake.Options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = loaded.Context,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = loaded.ClientCas is not null,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => Check(loaded, certificate, handshake),
        };
        return handshake;
    }

    /// <summary>
    /// A client may connect without a certificate unless one is required. A certificate is only believed when
    /// it chains to the configured CA bundle (and nothing else: the system store is not consulted), is in its
    /// validity period and allows client authentication; then its subject is the client's identity. A
    /// certificate offered where no CA is configured proves nothing: the client stays anonymous.
    /// </summary>
    private bool Check(Loaded loaded, X509Certificate? certificate, ServerHandshake handshake)
    {
        if (certificate is null || loaded.ClientCas is null)
        {
            return !RequireClientCertificate;
        }

        using var offered = new X509Certificate2(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(loaded.ClientCas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(s_clientAuthentication);
        if (!chain.Build(offered))
        {
            return false;
        }

        handshake.Identity = string.IsNullOrEmpty(offered.Subject) ? Exports.NbdClientIdentity.Anonymous : offered.Subject;
        return true;
    }

    private Loaded Load()
    {
        var stamps = Stamps();
        X509Certificate2 certificate;
        X509Certificate2Collection intermediates;
        try
        {
            var all = new X509Certificate2Collection();
            all.ImportFromPemFile(_certificatePath);
            certificate = X509Certificate2.CreateFromPemFile(_certificatePath, _keyPath);
            intermediates = [.. all.Skip(1)];
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new TlsCredentialsException($"The TLS certificate {_certificatePath} with key {_keyPath} cannot be loaded: {e.Message}", e);
        }

        if (!certificate.HasPrivateKey)
        {
            throw new TlsCredentialsException($"The TLS key {_keyPath} does not belong to the certificate {_certificatePath}.");
        }

        X509Certificate2Collection? clientCas = null;
        if (_clientCaPath is not null)
        {
            try
            {
                clientCas = [];
                clientCas.ImportFromPemFile(_clientCaPath);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new TlsCredentialsException($"The client CA bundle {_clientCaPath} cannot be loaded: {e.Message}", e);
            }

            if (clientCas.Count == 0)
            {
                throw new TlsCredentialsException($"The client CA bundle {_clientCaPath} holds no certificate.");
            }
        }

        var context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
        return new Loaded(certificate, context, clientCas, stamps);
    }

    /// <summary>Size and modification time of each file: a change to either means reload.</summary>
    private (long, DateTime)[] Stamps() =>
        new[] { _certificatePath, _keyPath, _clientCaPath }
            .OfType<string>()
            .Select(path => new FileInfo(path))
            .Select(info => info.Exists ? (info.Length, info.LastWriteTimeUtc) : (-1L, DateTime.MinValue))
            .ToArray();

    private sealed record Loaded(X509Certificate2 Certificate, SslStreamCertificateContext Context, X509Certificate2Collection? ClientCas, (long, DateTime)[] Stamps);
}

/// <summary>TLS credentials that cannot be used; the message names the file and what to do.</summary>
public sealed class TlsCredentialsException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One server-side TLS handshake: its options, and the client identity its certificate check established.</summary>
internal sealed class ServerHandshake
{
    public SslServerAuthenticationOptions Options { get; set; } = null!;

    /// <summary>The verified client certificate's subject, or anonymous.</summary>
    public string Identity { get; set; } = Exports.NbdClientIdentity.Anonymous;
}
