using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;
using BlockSim.Nbd.Tls;

namespace BlockSim.Nbd.Tests;

/// <summary>
/// What crosses the wire on a listener that requires TLS, captured by a relay between a client and the
/// server: nothing but the greeting, the client flags, STARTTLS and its ACK in clear, then only TLS records,
/// and the data written and read never appears in the capture.
/// </summary>
public sealed class TlsCaptureTests(TlsFixture tls) : IClassFixture<TlsFixture>
{
    private const int PlaintextToServer = 4 + 16;     // client flags, then the STARTTLS option header
    private const int PlaintextToClient = 18 + 20;    // greeting, then the STARTTLS ACK

    [Fact]
    public async Task A_tls_required_listener_moves_no_nbd_byte_in_clear()
    {
        await using var server = new NbdServer(new ExportRegistry([new MemoryExport("mem", 4 << 20)]), new NbdServerOptions { Tls = tls.Credentials() });
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), NbdTlsMode.Require).Port;
        await using var relay = new CapturingRelay(port);

        // A recognisable block: 64 KiB of a 16-byte marker repeated.
        var marker = "BLOCKSIM-SECRET!"u8.ToArray();
        var data = Enumerable.Range(0, 4096).SelectMany(_ => marker).ToArray();
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", relay.Port, new NbdClientOptions { ExportName = "mem", Tls = tls.Client("alice") }))
        {
            await client.WriteAsync(0, data);
            var back = new byte[data.Length];
            await client.ReadAsync(0, back);
            Assert.Equal(data, back);
        }

        var (toServer, toClient) = await relay.CaptureAsync();
        AssertTlsAfter(toServer, PlaintextToServer);
        AssertTlsAfter(toClient, PlaintextToClient);
        Assert.Equal(-1, toServer.AsSpan().IndexOf(marker));
        Assert.Equal(-1, toClient.AsSpan().IndexOf(marker));
    }

    [Fact]
    public async Task The_capture_check_sees_plaintext_when_tls_is_not_used()
    {
        // The same capture on a listener that allows plaintext: the check above must fail here.
        await using var server = new NbdServer(new ExportRegistry([new MemoryExport("mem", 4 << 20)]), new NbdServerOptions { Tls = tls.Credentials() });
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), NbdTlsMode.On).Port;
        await using var relay = new CapturingRelay(port);
        var marker = "BLOCKSIM-SECRET!"u8.ToArray();
        await using (var client = await NbdClient.ConnectTcpAsync("127.0.0.1", relay.Port, new NbdClientOptions { ExportName = "mem" }))
        {
            await client.WriteAsync(0, marker);
        }

        var (toServer, _) = await relay.CaptureAsync();
        Assert.NotEqual(-1, toServer.AsSpan().IndexOf(marker));
        Assert.ThrowsAny<Exception>(() => AssertTlsAfter(toServer, PlaintextToServer));
    }

    /// <summary>Everything after the plaintext prefix parses as whole TLS records (content types 20 to 23, version 3.x).</summary>
    private static void AssertTlsAfter(byte[] capture, int plaintext)
    {
        Assert.True(capture.Length > plaintext, "nothing after the plaintext handshake");
        var at = plaintext;
        var records = 0;
        while (at < capture.Length)
        {
            Assert.True(capture.Length - at >= 5, $"a truncated TLS record header at byte {at}");
            var type = capture[at];
            Assert.InRange(type, (byte)20, (byte)23);
            Assert.Equal(3, capture[at + 1]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(capture.AsSpan(at + 3));
            Assert.InRange(length, 1, (1 << 14) + 2048);
            at += 5 + length;
            records++;
        }

        Assert.Equal(capture.Length, at);
        Assert.True(records >= 4);
    }

    /// <summary>A TCP relay for one connection that keeps a copy of every byte in each direction.</summary>
    private sealed class CapturingRelay : IAsyncDisposable
    {
        private readonly Socket _listener = new(SocketType.Stream, ProtocolType.Tcp);
        private readonly MemoryStream _toServer = new();
        private readonly MemoryStream _toClient = new();
        private readonly Task _run;

        public CapturingRelay(int serverPort)
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(1);
            Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
            _run = RunAsync(serverPort);
        }

        public int Port { get; }

        /// <summary>Waits for both directions to end (the client closed), then returns the bytes.</summary>
        public async Task<(byte[] ToServer, byte[] ToClient)> CaptureAsync()
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(30));
            return (_toServer.ToArray(), _toClient.ToArray());
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Dispose();
            await Task.WhenAny(_run, Task.Delay(5000));
        }

        private async Task RunAsync(int serverPort)
        {
            using var client = await _listener.AcceptAsync();
            using var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await server.ConnectAsync(IPAddress.Loopback, serverPort);
            await Task.WhenAll(CopyAsync(client, server, _toServer), CopyAsync(server, client, _toClient));
        }

        private static async Task CopyAsync(Socket from, Socket to, MemoryStream capture)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var n = await from.ReceiveAsync(buffer);
                    if (n == 0)
                    {
                        break;
                    }

                    lock (capture)
                    {
                        capture.Write(buffer, 0, n);
                    }

                    await to.SendAsync(buffer.AsMemory(0, n));
                }
            }
            catch (SocketException)
            {
                // one side reset: the capture ends here
            }

            try
            {
                to.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
            }
        }
    }
}
