using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server;
using BlockSim.Nbd.Tls;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// Option haggling after TLS is negotiated, against a server whose listener requires TLS and verifies
/// client certificates: the harness reads the greeting, sends STARTTLS, completes the TLS handshake with a
/// certificate of the server's CA (so the connection has a verified identity, CN=fuzz), then sends the
/// input inside TLS as options. Checked as <see cref="NbdHandshakeTarget"/> checks: every reply well framed
/// and answering the option being handled; and no unexpected exception in the server. A TLS handshake per
/// input makes this target slow (hundreds a second); the parsing it reaches differs from the plaintext
/// target's in what TLS changes: a second STARTTLS, the identity, what a required-TLS listener allows.
/// </summary>
internal sealed class NbdTlsHandshakeTarget : IFuzzTarget
{
    private static readonly Lazy<TlsServer> s_server = new(TlsServer.Start);

    public string Name => "nbd-tls-handshake";

    public string Description => "NBD options after STARTTLS, inside TLS with a verified client certificate";

    public void Run(ReadOnlySpan<byte> input) =>
        NbdHandshakeTarget.CheckOptionReplies(Serve(input), 0, NbdHandshakeTarget.ClientOptions(input, at: 0));

    /// <summary>What the server sent inside TLS in answer to <paramref name="input"/>.</summary>
    internal static byte[] Serve(ReadOnlySpan<byte> input)
    {
        var server = s_server.Value;
        var output = server.Haggle(input.ToArray());
        return server.Log.Crashes.TryDequeue(out var crash)
            ? throw new FuzzFinding($"the server logged an unexpected exception: {crash}")
            : output;
    }

    public IEnumerable<(string Name, byte[] Input)> Seeds()
    {
        yield return ("go-structured", [.. NbdWire.Option(NbdOption.StructuredReply, []), .. NbdWire.Option(NbdOption.Go, NbdWire.NameAndInfos("mem", 0, 1, 2, 3))]);
        yield return ("starttls-again-list-abort", [.. NbdWire.Option(NbdOption.StartTls, []), .. NbdWire.Option(NbdOption.List, []), .. NbdWire.Option(NbdOption.Abort, [])]);
        yield return ("info-meta", [.. NbdWire.Option(NbdOption.Info, NbdWire.NameAndInfos("", 3)), .. NbdWire.Option(NbdOption.StructuredReply, []), .. NbdWire.Option(NbdOption.SetMetaContext, NbdWire.MetaContexts("mem", "base:allocation"))]);
    }

    /// <summary>One server for the process, on a Unix socket of the scratch folder, with its own CA.</summary>
    private sealed class TlsServer
    {
        private const int MaxKeptOutput = 16 << 20;
        private readonly string _socket;
        private readonly X509Certificate2Collection _clientCertificate;

        private TlsServer(string socket, X509Certificate2 clientCertificate, ServerCrashLog log)
        {
            _socket = socket;
            _clientCertificate = [clientCertificate];
            Log = log;
        }

        public ServerCrashLog Log { get; }

        public static TlsServer Start()
        {
            var directory = Path.Combine(FuzzScratch.Directory, "tls");
            string client;
            using (var authority = PrivateCertificateAuthority.Create(directory, ["localhost"], days: 30))
            {
                client = authority.IssueClient("fuzz", days: 30);
            }

            var credentials = new TlsCredentials(Path.Combine(directory, "server-cert.pem"), Path.Combine(directory, "server-key.pem"), Path.Combine(directory, "ca-cert.pem"), requireClientCertificate: true);
            var log = new ServerCrashLog();
            var server = new NbdServer(
                new ExportRegistry([new MemoryExport("mem", InMemoryNbdServer.ExportSize, "fuzz memory export")]),
                new NbdServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(5), MaxMemory = 256L << 20, Tls = credentials },
                log);
            var socket = Path.Combine(FuzzScratch.Directory, "tls.sock");
            server.ListenUnix(socket, NbdTlsMode.Require);
            var certificate = X509Certificate2.CreateFromPemFile(Path.Combine(client, "client-cert.pem"), Path.Combine(client, "client-key.pem"));
            return new TlsServer(socket, certificate, log);
        }

        /// <summary>Greeting, STARTTLS in plaintext, the TLS handshake, then <paramref name="options"/> inside TLS; returns what came back inside TLS.</summary>
        public byte[] Haggle(byte[] options)
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(_socket));
            using var plain = new NetworkStream(socket, ownsSocket: false) { ReadTimeout = 10_000, WriteTimeout = 10_000 };
            var greeting = new byte[18];
            plain.ReadExactly(greeting);
            NbdHandshakeTarget.CheckGreeting(greeting);
            plain.Write([0, 0, 0, 3, .. NbdWire.Option(NbdOption.StartTls, [])]); // fixed newstyle, no zeroes
            var reply = new byte[20];
            plain.ReadExactly(reply);
            NbdHandshakeTarget.CheckOptionReplies(reply, 0, [(uint)NbdOption.StartTls]);

            using var tls = new SslStream(plain, leaveInnerStreamOpen: true);
            tls.AuthenticateAsClient(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = _clientCertificate,
                RemoteCertificateValidationCallback = (_, _, _, _) => true, // the harness trusts its own server; the server verifies the client
            });
            try
            {
                tls.Write(options);
                tls.Flush();
                socket.Shutdown(SocketShutdown.Send); // the end of the input; the server sees end of stream
            }
            catch (IOException e) when (e.InnerException is SocketException)
            {
                // the server closed before it read everything (after ABORT, or a violation): read what it sent
            }

            var output = new MemoryStream();
            var buffer = new byte[64 * 1024];
            try
            {
                for (int read; (read = tls.Read(buffer)) > 0;)
                {
                    if (output.Length < MaxKeptOutput)
                    {
                        output.Write(buffer, 0, read);
                    }
                }
            }
            catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
            {
                // the server closed with input unread (the kernel resets such a socket): what came before is the output
            }

            return output.ToArray();
        }
    }
}
