using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Tls;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Server;

/// <summary>
/// One client connection: the fixed-newstyle handshake (<c>NbdConnection.Handshake.cs</c>), then the
/// transmission phase (<c>NbdConnection.Transmission.cs</c>). Bytes come and go through a duplex pipe, so
/// the same code serves TCP, Unix sockets, TLS streams and in-memory pipes (benchmarks).
/// </summary>
internal sealed partial class NbdConnection
{
    // Replaced once, when STARTTLS lays TLS over the socket.
    private PipeReader _input;
    private PipeWriter _output;
    private readonly ExportRegistry _exports;
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    // Never disposed: its only timer is the drain period at server stop, and the handshake disposes the
    // linked source it makes from it.
    private readonly CancellationTokenSource _stop = new();
    // Cancelled a grace period after _stop: a send still blocked then (a client that stopped reading its
    // replies) is abandoned by shutting the socket both ways, so a server stop cannot hang on such a client.
    private readonly CancellationTokenSource _abandon = new();
    private static readonly TimeSpan s_lastRepliesGrace = TimeSpan.FromSeconds(1);
    private Stream? _transport;
    // The socket under the transport (TLS included): shutting it down wakes a blocked read or send.
    private readonly Socket? _socket;
    private readonly BlockingSocketStream? _blockingSocket;
    private int _ownThreadId = -1;
    private readonly NbdTlsMode _tlsMode;

    // Transmission state: in-flight limits, finished requests waiting for the sender, and a pool of contexts.
    private readonly SemaphoreSlim _requestSlots;
    private readonly SemaphoreSlim _byteCredits;
    private readonly Channel<RequestContext> _finished =
        Channel.CreateUnbounded<RequestContext>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly ConcurrentQueue<RequestContext> _contextPool = new(); // a queue reuses its ring; a stack allocates a node per push
    private readonly PayloadMemory _memory;
    private readonly PayloadWaiter _memoryWaiter = new();
    // Requests whose replies are in the output pipe but not yet flushed to the socket: they keep their
    // slots and shares until the flush, so what a client has not taken off the server stays counted.
    private readonly List<RequestContext> _unflushed;

    private volatile bool _stopping;
    private long _lastActivity = Environment.TickCount64;
    private volatile bool _idleClosed;
    private volatile bool _departed;
    private readonly TaskCompletionSource _handshakeEnded = new();
    private int _reclaimed;

    /// <param name="transport">The socket's stream under <paramref name="pipe"/>: closed with the connection, and what TLS is laid over.</param>
    /// <param name="memory">The server's payload budget and buffers, shared by all its connections.</param>
    public NbdConnection(long id, IDuplexPipe pipe, ExportRegistry exports, NbdServerOptions options, PayloadMemory memory, ILogger logger, Stream? transport = null, NbdTlsMode tlsMode = NbdTlsMode.Off, string address = "in-process")
    {
        _memory = memory;
        _unflushed = new List<RequestContext>(options.MaxInFlightRequests);
        Id = id;
        Identity = new NbdClientIdentity(NbdClientIdentity.Anonymous, address, Tls: false, id);
        _tlsMode = transport is null ? NbdTlsMode.Off : tlsMode;
        _input = pipe.Input;
        _output = pipe.Output;
        _exports = exports;
        _options = options;
        _logger = logger;
        _transport = transport;
        _blockingSocket = transport as BlockingSocketStream;
        _socket = _blockingSocket?.Socket;
        _abandon.Token.UnsafeRegister(static state => ((NbdConnection)state!).ShutDownSocket(SocketShutdown.Both), this);
        _requestSlots = new SemaphoreSlim(options.MaxInFlightRequests, options.MaxInFlightRequests);
        var credits = (int)Math.Max(1, options.MaxInFlightBytes / CreditSize);
        _byteCredits = new SemaphoreSlim(credits, credits);
        MaxCredits = credits;
    }

    public long Id { get; }

    /// <summary>Who the client is: anonymous until a TLS handshake verifies its certificate.</summary>
    public NbdClientIdentity Identity { get; private set; }

    /// <summary>The export attached by the handshake (null until then).</summary>
    public INbdExport? Export { get; private set; }

    /// <summary>Completes when the handshake is over, whether an export was chosen or the connection closes.</summary>
    public Task HandshakeEnded => _handshakeEnded.Task;

    /// <summary>
    /// How long an attached connection has had nothing in flight and received nothing, in milliseconds;
    /// -1 while it is in the handshake, busy, stopping, or already reclaimed.
    /// </summary>
    public long IdleMilliseconds => Export is null || _stopping || Volatile.Read(ref _reclaimed) != 0 || !NothingInFlight
        ? -1
        : Environment.TickCount64 - Volatile.Read(ref _lastActivity);

    /// <summary>
    /// Closes an idle connection to make room for a new client (the server chose it by <see cref="IdleMilliseconds"/>):
    /// as the idle timeout does, by waking its receive loop, which then ends. False if it was reclaimed already.
    /// </summary>
    public bool Reclaim()
    {
        if (Interlocked.Exchange(ref _reclaimed, 1) != 0)
        {
            return false;
        }

        _stopping = true;
        _input.CancelPendingRead();
        ShutDownReceiving();
        return true;
    }

    /// <summary>
    /// Runs the connection to its end (see <see cref="RunAsync"/>). A socket connection starts on a thread of
    /// its own with blocking I/O (<see cref="BlockingSocketStream"/>) and stays there if its transmission is
    /// inline; otherwise it continues on the thread pool from its first wait on.
    /// </summary>
    public Task Start()
    {
        if (_blockingSocket is null)
        {
            return Task.Run(RunAsync);
        }

        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        StartOwnThread(() => RunAsync().ContinueWith(
            static (_, state) => ((TaskCompletionSource)state!).SetResult(),
            finished,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default));
        return finished.Task;
    }

    /// <summary>Starts the connection's own thread (named for dumps and per-thread CPU figures) running <paramref name="body"/>.</summary>
    private void StartOwnThread(Action body)
    {
        var thread = new Thread(() =>
        {
            _ownThreadId = Environment.CurrentManagedThreadId;
            body();
        })
        {
            IsBackground = true,
            Name = $"nbd connection {Id}",
        };
        thread.Start();
    }

    /// <summary>Runs the connection to its end: the client leaves, breaks the protocol, or the server stops.</summary>
    public async Task RunAsync()
    {
        try
        {
            bool attached;
            try
            {
                attached = await HandshakeAsync().ConfigureAwait(false);
            }
            finally
            {
                _handshakeEnded.TrySetResult();
            }

            if (attached)
            {
                await TransmitAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer went away or the server is stopping: nothing to report beyond the close.
        }
        catch (Exception e)
        {
            ServerLog.ConnectionFailed(_logger, Id, e);
        }
        finally
        {
            await CloseAsync().ConfigureAwait(false);
            ServerLog.Closed(_logger, Id);
        }
    }

    /// <summary>
    /// Completes the pipes and closes the transport. Completing the output flushes what is left, which fails
    /// when the client has gone (broken pipe): that is the normal end of such a connection, not an error for
    /// whoever awaits it (a server stopping with a vanished client must not fail).
    /// </summary>
    private async Task CloseAsync()
    {
        await _input.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // the client is gone; nothing more can reach it
        }

        if (_transport is not null)
        {
            await _transport.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Asks the connection to stop: no new requests are read or started; requests already running get
    /// <paramref name="drain"/> to finish (a write in flight is then kept, not dropped) before they are
    /// cancelled and answered ESHUTDOWN; then the connection closes. Replies get a further second to reach
    /// the client; a client that is not reading them is then cut off.
    /// </summary>
    public void BeginStop(TimeSpan drain)
    {
        _stopping = true;
        _input.CancelPendingRead();
        ShutDownReceiving();
        try
        {
            _stop.CancelAfter(drain);
            _abandon.CancelAfter(drain + s_lastRepliesGrace);
        }
        catch (ObjectDisposedException)
        {
            // The connection finished on its own meanwhile.
        }
    }

    /// <summary>
    /// Reads exactly <paramref name="count"/> bytes (cold path: the handshake). Returns null at end of stream.
    /// </summary>
    private async ValueTask<byte[]?> ReadExactAsync(int count, CancellationToken cancellationToken)
    {
        if (count == 0)
        {
            return []; // never wait for bytes that are not needed
        }

        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= count)
            {
                var bytes = buffer.Slice(0, count).ToArray();
                _input.AdvanceTo(buffer.GetPosition(count));
                return bytes;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads and throws away <paramref name="count"/> bytes; false at end of stream.</summary>
    private async ValueTask<bool> SkipAsync(long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var take = Math.Min(count, buffer.Length);
            _input.AdvanceTo(buffer.GetPosition(take));
            count -= take;
            if (count > 0 && (result.IsCompleted || result.IsCanceled))
            {
                return false;
            }
        }

        return true;
    }
}

