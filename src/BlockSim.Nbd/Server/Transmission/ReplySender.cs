using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// The pipelined transmission's send side: requests finish in any order on the thread pool and queue here;
/// one loop writes each one's reply whole into the output pipe and flushes once per batch, or sooner once
/// <see cref="FlushThreshold"/> bytes are waiting. A large READ's data is not copied: it goes from its
/// buffer to the socket (with whatever replies are waiting ahead of it). A request gives back its slot,
/// credits and share of the server's memory only once its reply has left for the socket, so what a client
/// has not taken off the server stays counted.
/// </summary>
internal sealed class ReplySender
{
    private const int FlushThreshold = 512 * 1024;

    /// <summary>READ data at least this long goes to the socket straight from its buffer.</summary>
    private const int DirectReadThreshold = 64 * 1024;

    private readonly Channel<RequestContext> _finished =
        Channel.CreateUnbounded<RequestContext>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    // Requests whose replies are in the output pipe but not yet flushed to the socket.
    private readonly List<RequestContext> _unflushed;
    private readonly PipeWriter _output;
    private readonly NbdRequestHandler _handler;
    private readonly PayloadMemory _memory;
    private readonly InFlightRequests _inFlight;
    private readonly ConnectionLifetime _lifetime;

    public ReplySender(PipeWriter output, NbdRequestHandler handler, PayloadMemory memory, InFlightRequests inFlight, ConnectionLifetime lifetime, int maxInFlightRequests)
    {
        _unflushed = new List<RequestContext>(maxInFlightRequests);
        _output = output;
        _handler = handler;
        _memory = memory;
        _inFlight = inFlight;
        _lifetime = lifetime;
    }

    /// <summary>Queues a finished request (run, or refused before running) for its reply; from any thread.</summary>
    public void Enqueue(RequestContext context) => _finished.Writer.TryWrite(context);

    /// <summary>No more requests will come: the loop ends once it has answered those queued.</summary>
    public void Complete() => _finished.Writer.TryComplete();

    public async Task RunAsync()
    {
        var exportName = _handler.Session.Export.Name;
        var reader = _finished.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            long pending = 0;
            while (reader.TryRead(out var context))
            {
                NbdMetrics.RequestAnswered(exportName, context.Request.Command, context.Error, context.Request.Length, context.ReceivedAt);
                if (_lifetime.HasDeparted)
                {
                    _inFlight.Return(context);
                }
                else if (IsDirectRead(context))
                {
                    _handler.WriteReadHead(_output, context);
                    _unflushed.Add(context);
                    await TrySendAsync(context.Buffer.AsMemory(0, (int)context.Request.Length)).ConfigureAwait(false);
                    pending = 0;
                }
                else
                {
                    pending += _handler.WriteReply(_output, context);
                    context.ReturnBuffer(_memory); // copied into the pipe; the request's share now covers the copy
                    _unflushed.Add(context);
                    if (pending >= FlushThreshold)
                    {
                        await TrySendAsync(default).ConfigureAwait(false);
                        pending = 0;
                    }
                }
            }

            if (_unflushed.Count > 0)
            {
                await TrySendAsync(default).ConfigureAwait(false);
            }
        }
    }

    private static bool IsDirectRead(RequestContext context) =>
        context.Error == NbdError.None && context.Request.Command == NbdCommand.Read && context.Request.Length >= DirectReadThreshold;

    /// <summary>
    /// Sends what waits in the pipe, then <paramref name="payload"/> from where it is (no copy on a socket),
    /// and returns every request whose reply that carried. When the client has gone, the connection is told
    /// so: nothing it sent is started any more and what runs is cancelled.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask TrySendAsync(ReadOnlyMemory<byte> payload)
    {
        var gone = false;
        try
        {
            var flush = payload.IsEmpty
                ? await _output.FlushAsync().ConfigureAwait(false)
                : await _output.WriteAsync(payload).ConfigureAwait(false);
            gone = flush.IsCompleted;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            gone = true;
        }

        foreach (var sent in _unflushed)
        {
            _inFlight.Return(sent);
        }

        _unflushed.Clear();
        if (gone)
        {
            _lifetime.ClientDeparted();
        }
    }
}
