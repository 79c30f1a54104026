using System.IO.Pipelines;
using System.Net.Sockets;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server.Handshake;
using BlockSim.Nbd.Server.Transmission;
using BlockSim.Nbd.Server.Transport;
using BlockSim.Nbd.Tls;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Server;

/// <summary>
/// One client connection's life: it runs the handshake (<see cref="NbdHandshake"/>), which settles an
/// <see cref="NbdSession"/>, then one of the two transmissions under it (<see cref="InlineTransmission"/> on
/// the connection's own thread, or <see cref="PipelinedTransmission"/> on the thread pool), each handing
/// requests to an <see cref="NbdRequestHandler"/>; it stops on request (server stop, idle timeout, reclaim)
/// and closes the transport at the end. Bytes come and go through <see cref="ConnectionTransport"/>, so the
/// same code serves TCP, Unix sockets, TLS streams and in-memory pipes (benchmarks).
/// </summary>
internal sealed class NbdConnection
{
    // A send still blocked this long after the drain (a client that stopped reading its replies) is
    // abandoned by shutting the socket both ways, so a server stop cannot hang on such a client.
    private static readonly TimeSpan s_lastRepliesGrace = TimeSpan.FromSeconds(1);

    private readonly long _opened = System.Diagnostics.Stopwatch.GetTimestamp();
    private readonly ConnectionTransport _transport;
    private readonly ExportRegistry _exports;
    private readonly NbdServerOptions _options;
    private readonly PayloadMemory _memory;
    private readonly ILogger _logger;
    private readonly NbdTlsMode _tlsMode;
    private readonly ConnectionLifetime _lifetime;
    private readonly CancellationTokenSource _abandon = new();
    private readonly TaskCompletionSource _handshakeEnded = new();
    private NbdHandshake? _handshake;
    private NbdSession? _session;
    private ITransmission? _transmission;
    private int _ownThreadId = -1;
    private volatile bool _idleClosed;
    private int _reclaimed;

    /// <param name="transport">The socket's stream under <paramref name="pipe"/>: closed with the connection, and what TLS is laid over.</param>
    /// <param name="memory">The server's payload budget and buffers, shared by all its connections.</param>
    public NbdConnection(long id, IDuplexPipe pipe, ExportRegistry exports, NbdServerOptions options, PayloadMemory memory, ILogger logger, Stream? transport = null, NbdTlsMode tlsMode = NbdTlsMode.Off, string address = "in-process")
    {
        Id = id;
        _transport = new ConnectionTransport(pipe, transport);
        _exports = exports;
        _options = options;
        _memory = memory;
        _logger = logger;
        _tlsMode = tlsMode;
        _lifetime = new ConnectionLifetime(_transport);
        InitialIdentity = new NbdClientIdentity(NbdClientIdentity.Anonymous, address, Tls: false, id);
        _abandon.Token.UnsafeRegister(static state => ((ConnectionTransport)state!).ShutDown(SocketShutdown.Both), _transport);
    }

    public long Id { get; }

    /// <summary>Who the client is: anonymous until a TLS handshake verifies its certificate.</summary>
    public NbdClientIdentity Identity => _session?.Identity ?? _handshake?.Identity ?? InitialIdentity;

    /// <summary>The export attached by the handshake (null until then).</summary>
    public INbdExport? Export => _session?.Export;

    /// <summary>Completes when the handshake is over, whether an export was chosen or the connection closes.</summary>
    public Task HandshakeEnded => _handshakeEnded.Task;

    private NbdClientIdentity InitialIdentity { get; }

    /// <summary>
    /// How long an attached connection has had nothing in flight and received nothing, in milliseconds;
    /// -1 while it is in the handshake, busy, stopping, or already reclaimed.
    /// </summary>
    public long IdleMilliseconds => Export is null || _lifetime.IsStopping || Volatile.Read(ref _reclaimed) != 0 || !NothingInFlight
        ? -1
        : Environment.TickCount64 - _lifetime.LastActivity;

    /// <summary>No request is being read, run or answered (the idle timeout and idle reclaim ask this).</summary>
    private bool NothingInFlight => _transmission?.NothingInFlight ?? true;

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

        _lifetime.StopReceiving();
        return true;
    }

    /// <summary>
    /// Drops the connection at once, as a reset or a disk that vanished would: nothing in flight is answered,
    /// the socket is shut down both ways (the simulator's disconnect).
    /// </summary>
    public void Drop()
    {
        _lifetime.ClientDeparted();
        _abandon.Cancel();
    }

    /// <summary>
    /// Runs the connection to its end (see <see cref="RunAsync"/>). A socket connection starts on a thread of
    /// its own with blocking I/O (<see cref="BlockingSocketStream"/>) and stays there if its transmission is
    /// inline; otherwise it continues on the thread pool from its first wait on.
    /// </summary>
    public Task Start()
    {
        if (_transport.BlockingSocket is null)
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
            try
            {
                _handshake = new NbdHandshake(_transport, _exports, _options, _logger, InitialIdentity, _tlsMode);
                _session = await _handshake.RunAsync(_lifetime.Stopped).ConfigureAwait(false);
            }
            finally
            {
                _handshakeEnded.TrySetResult();
            }

            if (_session is not null)
            {
                await TransmitAsync(_session).ConfigureAwait(false);
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
            await _transport.CloseAsync().ConfigureAwait(false);
            if (Export is { } attached)
            {
                // As loud as the attach: who was on which export, and for how long.
                ServerLog.Detached(_logger, Id, Identity.ToString(), attached.Name, Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(_opened).TotalSeconds, 1));
            }
            else
            {
                ServerLog.Closed(_logger, Id, Identity.ToString());
            }
        }
    }

    private async Task TransmitAsync(NbdSession session)
    {
        using var idleCheck = _options.IdleTimeout > TimeSpan.Zero
            ? TimeProvider.System.CreateTimer(_ => CloseIfIdle(), null, _options.IdleTimeout / 4, _options.IdleTimeout / 4)
            : null;
        try
        {
            var handler = new NbdRequestHandler(session, _memory, _logger, Drop);
            if (_options.InlineTransmission && _transport.Stream is not null && session.Export.CompletesSynchronously)
            {
                var inline = new InlineTransmission(_transport, handler, _options, _memory, _lifetime, _logger);
                _transmission = inline;
                await RunOnOwnThread(inline.Run).ConfigureAwait(false);
            }
            else
            {
                _transport.BlockingSocket?.SwitchToAsynchronous();
                var pipelined = new PipelinedTransmission(_transport, handler, _options, _memory, _lifetime, _logger);
                _transmission = pipelined;
                await pipelined.RunAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            if (_idleClosed)
            {
                ServerLog.IdleClosed(_logger, Id, _options.IdleTimeout.TotalSeconds);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> on the connection's own thread: here if the handshake never left it,
    /// else on a new one (a wait in the handshake, such as a key-store call, moved it to the thread pool).
    /// </summary>
    private Task RunOnOwnThread(Action body)
    {
        if (Environment.CurrentManagedThreadId == _ownThreadId)
        {
            try
            {
                body();
                return Task.CompletedTask;
            }
            catch (Exception e)
            {
                return Task.FromException(e);
            }
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        StartOwnThread(() =>
        {
            try
            {
                body();
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e); // RunAsync tells a vanished client from a real failure
            }
        });
        return done.Task;
    }

    /// <summary>
    /// Timer callback: with nothing in flight and nothing received for the idle timeout, wake the receive
    /// loop so it ends (a client in the middle of sending a request holds a slot, or is busy inline, so it
    /// is never idle).
    /// </summary>
    private void CloseIfIdle()
    {
        if (NothingInFlight && Environment.TickCount64 - _lifetime.LastActivity >= (long)_options.IdleTimeout.TotalMilliseconds)
        {
            _idleClosed = true;
            _lifetime.StopReceiving();
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
        _lifetime.StopReceiving();
        try
        {
            _lifetime.CancelAfter(drain);
            _abandon.CancelAfter(drain + s_lastRepliesGrace);
        }
        catch (ObjectDisposedException)
        {
            // The connection finished on its own meanwhile.
        }
    }
}
