using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BlockSim.Kmip.Ttlv;

namespace BlockSim.Kmip;

/// <summary>
/// One mutual-TLS connection (TLS 1.2 or 1.3) to a KMIP server, one request at a time, synchronous: the
/// key store asks for one key at start-up and nothing else waits on it. Every step has a deadline, so a
/// server that hangs is reported as unavailable, never waited on for ever.
/// </summary>
public sealed partial class KmipClient : IDisposable
{
    /// <summary>An answer larger than this is refused before it is read (every answer here is a few hundred bytes).</summary>
    public const int MaxResponseBytes = 1 << 20;

    private readonly TcpClient _tcp;
    private readonly SslStream _tls;
    private readonly KmipEndpoint _endpoint;

    private KmipClient(KmipEndpoint endpoint, TcpClient tcp, SslStream tls)
    {
        _endpoint = endpoint;
        _tcp = tcp;
        _tls = tls;
    }

    public KmipEndpoint Endpoint => _endpoint;

    /// <summary>Connects and completes the TLS handshake within <paramref name="timeout"/> (default 5 s).</summary>
    public static KmipClient Connect(KmipEndpoint endpoint, TimeSpan? timeout = null)
    {
        var deadline = timeout ?? TimeSpan.FromSeconds(5);
        var options = TlsOptions(endpoint);
        var serverCertificateErrors = SslPolicyErrors.None;
        options.RemoteCertificateValidationCallback = (_, _, _, errors) =>
        {
            serverCertificateErrors = errors; // the chain policy above has decided; this only remembers what it found
            return errors == SslPolicyErrors.None;
        };
        var tcp = new TcpClient { NoDelay = true, ReceiveTimeout = (int)deadline.TotalMilliseconds, SendTimeout = (int)deadline.TotalMilliseconds };
        try
        {
            using (var connecting = new CancellationTokenSource(deadline))
            {
                tcp.ConnectAsync(endpoint.Host, endpoint.Port, connecting.Token).AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            tcp.Dispose();
            throw new KmipUnavailableException(e is OperationCanceledException
                ? $"The KMIP server {endpoint} did not accept a connection within {deadline.TotalSeconds:0.#} s."
                : $"The KMIP server {endpoint} cannot be reached: {e.Message}", e);
        }

        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            using var handshake = new CancellationTokenSource(deadline);
            tls.AuthenticateAsClientAsync(options, handshake.Token).GetAwaiter().GetResult();
            return new KmipClient(endpoint, tcp, tls);
        }
        catch (Exception e)
        {
            tls.Dispose();
            tcp.Dispose();
            throw e switch
            {
                OperationCanceledException => new KmipUnavailableException($"The KMIP server {endpoint} did not complete the TLS handshake within {deadline.TotalSeconds:0.#} s.", e),
                AuthenticationException when serverCertificateErrors != SslPolicyErrors.None => new KmipHandshakeException(
                    $"The KMIP server {endpoint} presented a certificate that does not chain to {endpoint.CaFile} or does not name {endpoint.Host} ({serverCertificateErrors}).", serverCertificateRejected: true, e),
                AuthenticationException or IOException => new KmipHandshakeException(
                    $"The KMIP server {endpoint} refused the TLS handshake (it does not accept the client certificate {endpoint.CertificateFile}, or shares no TLS version with this client): {Innermost(e).Message}", serverCertificateRejected: false, e),
                _ => e,
            };
        }
    }

    /// <summary>Trust the given CA only (never the system's roots) and present the client's certificate.</summary>
    private static SslClientAuthenticationOptions TlsOptions(KmipEndpoint endpoint)
    {
        var trusted = new X509Certificate2Collection();
        X509Certificate2 client;
        try
        {
            trusted.ImportFromPemFile(endpoint.CaFile);
            client = X509Certificate2.CreateFromPemFile(endpoint.CertificateFile, endpoint.KeyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new KmipConfigurationException($"The TLS files for the KMIP server {endpoint} cannot be used (CA {endpoint.CaFile}, certificate {endpoint.CertificateFile}, key {endpoint.KeyFile}; PEM): {e.Message}", e);
        }

        if (trusted.Count == 0)
        {
            throw new KmipConfigurationException($"{endpoint.CaFile} holds no certificate: give the CA that signed the KMIP server's certificate (PEM).");
        }

        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(trusted);
        return new SslClientAuthenticationOptions
        {
            TargetHost = endpoint.Host,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificates = [client],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = policy,
        };
    }

    /// <summary>
    /// Sends one request and returns the payload of its successful answer. The request's bytes and the
    /// answer's buffer are zeroed once used (they may carry a slot key); the returned payload's byte strings
    /// are the caller's to zero.
    /// </summary>
    internal TtlvItem Call(KmipOperation operation, TtlvItem payload, int minor = KmipMessages.ProtocolMinor)
    {
        var request = TtlvEncoder.Encode(KmipMessages.Request(operation, payload, minor));
        payload.ZeroByteStrings();
        byte[]? message = null;
        try
        {
            _tls.Write(request);
            _tls.Flush();
            var header = new byte[8];
            _tls.ReadExactly(header);
            var length = TtlvDecoder.ItemLength(header);
            if (length > MaxResponseBytes)
            {
                throw new KmipProtocolException($"The KMIP server {_endpoint} announced a {length}-byte answer to {operation}; more than {MaxResponseBytes} is refused.");
            }

            message = new byte[length];
            header.CopyTo(message, 0);
            _tls.ReadExactly(message, 8, length - 8);
            return KmipMessages.ResponsePayload(TtlvDecoder.Decode(message), operation);
        }
        catch (TtlvFormatException e)
        {
            throw new KmipProtocolException($"The KMIP server {_endpoint} answered {operation} with bytes that are not TTLV: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw new KmipUnavailableException($"The KMIP server {_endpoint} did not answer {operation} (connection lost or timed out): {Innermost(e).Message}", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(request);
            CryptographicOperations.ZeroMemory(message);
        }
    }

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    public void Dispose()
    {
        _tls.Dispose();
        _tcp.Dispose();
    }
}
