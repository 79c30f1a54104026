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
    /// An attached connection with no request in flight and nothing received for this long is closed
    /// (zero: never). The handshake has its own limit, <see cref="HandshakeTimeout"/>.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Serve a socket connection whose export completes synchronously on a thread of its own, requests
    /// run one after another where they are read (see <c>NbdConnection.Inline.cs</c>); false: every export
    /// takes the pipelined path (requests overlap on the thread pool).
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
