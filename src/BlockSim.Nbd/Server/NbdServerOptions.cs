using BlockSim.Nbd.Tls;

namespace BlockSim.Nbd.Server;

/// <summary>Limits and behaviour of the server. The defaults suit the Linux kernel client (queue depth 128).</summary>
public sealed class NbdServerOptions
{
    /// <summary>Requests one connection may have in flight; past it the server stops reading that socket.</summary>
    public int MaxInFlightRequests { get; set; } = 128;

    /// <summary>Payload bytes (WRITE data and READ replies) one connection may hold at once.</summary>
    public long MaxInFlightBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Payload bytes all connections together may hold, from a request's arrival until its reply has left
    /// for the socket, buffers kept for reuse included; past it the server stops reading from sockets.
    /// Default: a quarter of the memory the process may use, at least 256 MiB.
    /// </summary>
    public long MaxMemory { get; set; } = DefaultMaxMemory;

    /// <summary>A quarter of the memory this process may use (the machine's, or its cgroup's limit), at least 256 MiB.</summary>
    public static long DefaultMaxMemory => PayloadMemory.DefaultLimit;

    /// <summary>Longest option payload accepted during the handshake; a longer one closes the connection.</summary>
    public int MaxOptionLength { get; set; } = 64 * 1024;

    /// <summary>Options a client may send before it must choose an export; more closes the connection.</summary>
    public int MaxOptions { get; set; } = 256;

    /// <summary>Time a client gets to finish the handshake.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>On stop, how long requests already running may take before they are cancelled (ESHUTDOWN).</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Connections served at once; more are closed at once with a log line.</summary>
    public int MaxConnections { get; set; } = 1024;

    /// <summary>Connections one client IP address may hold at once (Unix-socket clients are not counted); more are closed at once.</summary>
    public int MaxConnectionsPerAddress { get; set; } = 64;

    /// <summary>
    /// Connections from one client IP address that have not chosen an export yet; more are closed at once.
    /// Well below <see cref="MaxConnectionsPerAddress"/>, so that one address that opens sockets and sends
    /// nothing holds a few slots for <see cref="HandshakeTimeout"/>, not the table (a client needs one per
    /// connection it is setting up, e.g. 4 for <c>nbd-client -C 4</c>).
    /// </summary>
    public int MaxHandshakesPerAddress { get; set; } = 8;

    /// <summary>
    /// New connections one client IP address may open per second, on average (a token bucket of
    /// <see cref="ConnectionBurstPerAddress"/>); more are closed at once with a log line. Zero: no limit.
    /// Off here, on in the daemon's configuration (limits.connectionsPerSecondPerAddress). Unix-socket
    /// clients are not limited (the socket's file permissions say who may connect).
    /// </summary>
    public double ConnectionsPerSecondPerAddress { get; set; }

    /// <summary>Connections one address may open at once before <see cref="ConnectionsPerSecondPerAddress"/> applies.</summary>
    public int ConnectionBurstPerAddress { get; set; } = 64;

    /// <summary>
    /// An attached connection with no request in flight and nothing received for this long is closed
    /// (zero: never). The handshake has its own limit, <see cref="HandshakeTimeout"/>. Off by default: the
    /// Linux kernel client sends nothing while the filesystem on it is idle (no NBD keepalive exists), and
    /// a mounted disk cut off that way turns into I/O errors; <see cref="ReclaimIdleAfter"/> frees idle
    /// connections only when their slots are needed.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// When a new client finds the connection table (or its address's share of it) full, an attached
    /// connection idle at least this long is closed to make room instead of refusing the newcomer: the one
    /// from the address holding the most connections, the longest idle among those (zero: never; the
    /// newcomer is refused).
    /// </summary>
    public TimeSpan ReclaimIdleAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Serve a socket connection whose export completes synchronously on a thread of its own, requests
    /// run one after another where they are read (see <c>Server/Transmission/InlineTransmission.cs</c>);
    /// false: every export takes the pipelined path (requests overlap on the thread pool).
    /// </summary>
    public bool InlineTransmission { get; set; } = true;

    /// <summary>
    /// How long an inline connection watches its socket for the next request before it blocks (zero: block
    /// at once). Spinning trades CPU for latency when a client sends one request at a time.
    /// </summary>
    public TimeSpan InlineSpin { get; set; } = TimeSpan.FromMicroseconds(50);

    /// <summary>Certificate, key and client CA for STARTTLS; each listener says whether TLS is off, on or required.</summary>
    public TlsCredentials? Tls { get; set; }
}
