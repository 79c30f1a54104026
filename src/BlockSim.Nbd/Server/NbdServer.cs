using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using BlockSim.Nbd.Server.Transport;
using BlockSim.Nbd.Tls;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Nbd.Server;

/// <summary>
/// Serves a set of exports on TCP and Unix-socket listeners. <see cref="StopAsync"/> stops accepting,
/// lets every connection answer what it has read, and closes them.
/// </summary>
public sealed partial class NbdServer : IAsyncDisposable
{
    private readonly ExportRegistry _exports;
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    private readonly List<Socket> _listeners = [];
    private readonly List<NbdTlsMode> _tlsModes = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<long, (NbdConnection Connection, Task Run, IPAddress? Address)> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly PayloadMemory _memory;
    private long _nextConnectionId;

    public NbdServer(ExportRegistry exports, NbdServerOptions? options = null, ILogger? logger = null)
    {
        _exports = exports;
        _options = options ?? new NbdServerOptions();
        _logger = logger ?? NullLogger.Instance;
        _memory = new PayloadMemory(_options.MaxMemory);
    }

    public ExportRegistry Exports => _exports;

    /// <summary>Where the server listens, as bound (a TCP port of 0 becomes the real port).</summary>
    public IReadOnlyList<EndPoint> Endpoints => _listeners.Select(l => l.LocalEndPoint!).ToArray();

    public int ConnectionCount => _connections.Count;

    /// <summary>Request payload buffers this server has handed out and not had back (zero when all is idle).</summary>
    public long RentedBuffers => _memory.RentedBuffers;

    /// <summary>Payload bytes held by requests in flight, over all connections (at most <see cref="NbdServerOptions.MaxMemory"/>).</summary>
    public long PayloadBytesHeld => _memory.Held;

    /// <summary>Listens on a TCP endpoint (port 0 picks a free port; see <see cref="Endpoints"/>).</summary>
    public IPEndPoint ListenTcp(IPEndPoint endpoint, NbdTlsMode tls = NbdTlsMode.Off)
    {
        CheckTls(tls, endpoint.ToString());
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            AllowRebindBesideTimeWait(socket);
            socket.Bind(endpoint);
            socket.Listen(512);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"Cannot listen on {endpoint}: {e.Message}. Is another server using that port? Choose another with --listen.", e);
        }

        Start(socket, tls);
        return (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>
    /// Sets SO_REUSEADDR alone, so a restarted server binds even while connections of the previous one linger
    /// in TIME_WAIT, yet a second server on the same address fails. Not <see cref="SocketOptionName.ReuseAddress"/>:
    /// on Linux .NET maps it to SO_REUSEPORT as well, which lets any number of servers bind one address and
    /// the kernel share clients out among them.
    /// </summary>
    private static void AllowRebindBesideTimeWait(Socket socket)
    {
        const int solSocket = 1;
        const int soReuseAddr = 2;
        socket.SetRawSocketOption(solSocket, soReuseAddr, BitConverter.GetBytes(1));
    }

    /// <summary>Listens on a Unix domain socket; a stale socket file from an earlier run is replaced.</summary>
    public void ListenUnix(string path, NbdTlsMode tls = NbdTlsMode.Off)
    {
        CheckTls(tls, path);
        if (File.Exists(path))
        {
            UnixSocketFile.RemoveStale(path);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(512);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"Cannot listen on the Unix socket {path}: {e.Message}.", e);
        }

        Start(socket, tls);
    }

    /// <summary>Serves one already-connected duplex pipe (in-memory transports, benchmarks, tests).</summary>
    public Task ServeAsync(IDuplexPipe pipe)
    {
        var connection = new NbdConnection(Interlocked.Increment(ref _nextConnectionId), pipe, _exports, _options, _memory, _logger);
        return Track(connection);
    }

    /// <summary>Drops every connection attached to <paramref name="exportName"/> at once (see <see cref="NbdConnection.Drop"/>); returns how many.</summary>
    public int Disconnect(string exportName)
    {
        var dropped = 0;
        foreach (var (connection, _, _) in _connections.Values)
        {
            if (connection.Export?.Name == exportName)
            {
                connection.Drop();
                dropped++;
            }
        }

        return dropped;
    }

    /// <summary>The open connections, oldest first: who each client is (as far as its handshake has named it) and the export it attached to (null while it haggles).</summary>
    public IReadOnlyList<NbdConnectionStatus> Connections() =>
        [.. _connections.Values.Select(c => c.Connection).OrderBy(c => c.Id).Select(c => new NbdConnectionStatus(c.Id, c.Identity.Name, c.Identity.Address, c.Identity.Tls, c.Export?.Name))];

    /// <summary>How each listener treats STARTTLS (by listening socket).</summary>
    public NbdTlsMode TlsModeOf(EndPoint endpoint) =>
        _listeners.Zip(_tlsModes).FirstOrDefault(l => Equals(l.First.LocalEndPoint, endpoint)).Second;

    /// <summary>
    /// A listener must be able to keep the promises the credentials make: with client certificates required,
    /// only a listener that requires TLS can, since on any other a client could skip STARTTLS and attach as
    /// anonymous. Refusing to start says so at once instead of serving such clients.
    /// </summary>
    private void CheckTls(NbdTlsMode tls, string where)
    {
        var mode = tls.ToString().ToLowerInvariant();
        if (tls != NbdTlsMode.Off && _options.Tls is null)
        {
            throw new ArgumentException($"Listener {where}: TLS mode '{mode}' needs TLS credentials (a certificate and its key).", nameof(tls));
        }

        if (tls != NbdTlsMode.Require && _options.Tls is { RequireClientCertificate: true })
        {
            throw new InvalidOperationException($"Listener {where}: client certificates are required, but its TLS mode '{mode}' lets clients in without TLS. Give it tls=require, or drop requireClientCertificate.");
        }
    }

    private void Start(Socket listener, NbdTlsMode tls)
    {
        _listeners.Add(listener);
        _tlsModes.Add(tls);
        var where = listener.LocalEndPoint is UnixDomainSocketEndPoint unix ? $"unix:{unix}" : listener.LocalEndPoint!.ToString()!;
        ServerLog.Listening(_logger, tls == NbdTlsMode.Off ? where : $"{where} (TLS {tls.ToString().ToLowerInvariant()})");
        _acceptLoops.Add(AcceptLoopAsync(listener, tls));
    }

    private async Task AcceptLoopAsync(Socket listener, NbdTlsMode tlsMode)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                continue; // a failed accept (the peer reset before we took it) does not stop the listener
            }

            var remote = ServerLog.Describe(socket.RemoteEndPoint);
            var address = (socket.RemoteEndPoint as IPEndPoint)?.Address;
            if (Admit(address, remote) is { } refusal)
            {
                LogRefusal(refusal, remote);
                NbdMetrics.ConnectionRefused();
                socket.Dispose();
                continue;
            }

            if (socket.AddressFamily != AddressFamily.Unix)
            {
                socket.NoDelay = true; // replies are whole messages; do not hold them back
            }

            var stream = new BlockingSocketStream(new NetworkStream(socket, ownsSocket: true));
            var pipe = new StreamDuplexPipe(stream);
            var id = Interlocked.Increment(ref _nextConnectionId);
            ServerLog.Accepted(_logger, id, remote);
            _ = Track(new NbdConnection(id, pipe, _exports, _options, _memory, _logger, stream, tlsMode, address?.ToString() ?? "unix"), address);
        }
    }

    /// <summary>
    /// Counts the connection in before it starts (a client may finish its handshake before Start returns)
    /// and out when it ends; what a stop waits for completes only once the connection is counted out.
    /// </summary>
    private Task Track(NbdConnection connection, IPAddress? address = null)
    {
        var ended = new TaskCompletionSource();
        _connections[connection.Id] = (connection, ended.Task, address);
        NbdMetrics.ConnectionOpened();
        var inHandshake = 1; // counted out of the handshake once, whichever comes first: its end or the connection's
        if (address is not null)
        {
            connection.HandshakeEnded.ContinueWith(
                _ =>
                {
                    if (Interlocked.Exchange(ref inHandshake, 0) == 1)
                    {
                        HandshakeOver(address);
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }

        return connection.Start().ContinueWith(
            _ =>
            {
                _connections.TryRemove(connection.Id, out var _);
                NbdMetrics.ConnectionClosed();
                if (address is not null)
                {
                    Uncount(address, handshakeOver: Interlocked.Exchange(ref inHandshake, 0) == 0);
                }

                ended.SetResult();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public async Task StopAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        ServerLog.Stopping(_logger, _connections.Count);
        _stopping.Cancel();
        foreach (var listener in _listeners)
        {
            var unixPath = (listener.LocalEndPoint as UnixDomainSocketEndPoint)?.ToString();
            listener.Dispose();
            if (!string.IsNullOrEmpty(unixPath) && File.Exists(unixPath))
            {
                File.Delete(unixPath);
            }
        }

        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        var open = _connections.Values.ToArray();
        foreach (var (connection, _, _) in open)
        {
            connection.BeginStop(_options.DrainTimeout);
        }

        await Task.WhenAll(open.Select(c => c.Run)).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}
