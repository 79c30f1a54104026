using System.Buffers;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server.Transport;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// Inline transmission, for exports whose operations finish before they return (memory, files, encrypted
/// volumes over them): one thread per connection reads requests with blocking reads, runs each where it
/// was read, and collects the replies in a buffer that is sent when no further request is waiting. No
/// request crosses threads. At 4 KiB on a 2-vCPU machine the pipelined path's hand-offs (socket completion
/// to thread pool, work item, sender loop) were most of a request's cost, far more than the work itself
/// (perf/RESULTS.md). Requests on one connection run one after another, as in nbd-server; a client gets
/// parallelism from more connections (multi-conn is advertised). Exports that delay on purpose (simulated
/// latency or throttling) keep the pipelined path, so their requests overlap as on a real queue.
/// </summary>
internal sealed class InlineTransmission : ITransmission, IRequestPayloadSource
{
    private readonly ConnectionTransport _transport;
    private readonly NbdRequestHandler _handler;
    private readonly PayloadMemory _memory;
    private readonly ConnectionLifetime _lifetime;
    private readonly TimeSpan _spin;
    private readonly ILogger _logger;
    private readonly PayloadWaiter _memoryWaiter = new();
    private readonly RequestReceiver _receiver;
    private StreamRequestReader _requests = null!;

    // Set from reading a request's header to sending its reply; the idle check reads it from a timer thread.
    private volatile bool _busy;

    public InlineTransmission(ConnectionTransport transport, NbdRequestHandler handler, NbdServerOptions options, PayloadMemory memory, ConnectionLifetime lifetime, ILogger logger)
    {
        _transport = transport;
        _handler = handler;
        _memory = memory;
        _lifetime = lifetime;
        _spin = options.InlineSpin;
        _logger = logger;
        _receiver = new RequestReceiver(handler, this, memory, lifetime);
    }

    public bool NothingInFlight => !_busy;

    /// <summary>
    /// Runs the transmission to its end on the calling thread, which must be the connection's own: it
    /// blocks in reads, in sends and, when the server's memory is all taken, in waiting for its share.
    /// </summary>
    public void Run()
    {
        // Requests a client sent without waiting for the handshake's last reply may already sit in the pipe.
        var stream = _transport.Stream!;
        var input = _transport.Input;
        if (input.TryRead(out var buffered))
        {
            _requests = new StreamRequestReader(stream, buffered.Buffer);
            input.AdvanceTo(buffered.Buffer.End);
        }
        else
        {
            _requests = new StreamRequestReader(stream, ReadOnlySequence<byte>.Empty);
        }

        var replies = new StreamReplyWriter(stream);
        var exportName = _handler.Session.Export.Name;
        var context = new RequestContext();
        while (!_lifetime.IsStopping)
        {
            var status = _requests.TryReadRequest(out var request);
            if (status == OperationStatus.NeedMoreData)
            {
                // Nothing more to answer without waiting: send what is answered, then block for more.
                replies.Flush();
                if (!_requests.HasBufferedBytes)
                {
                    InlineSpin.UntilReadable(_transport.Socket, _spin);
                }

                if (!_requests.Fill())
                {
                    return;
                }

                continue;
            }

            _lifetime.Touch();
            if (status == OperationStatus.InvalidData)
            {
                replies.Flush();
                ServerLog.ProtocolViolation(_logger, _handler.Session.Identity.ConnectionId, "request without the request magic");
                return;
            }

            if (request.Command == NbdCommand.Disconnect)
            {
                break; // no reply
            }

            _busy = true;
            try
            {
                if (!WaitFor(_receiver.ReceiveAsync(context, request)))
                {
                    return; // the client left in the middle of a WRITE payload
                }

                if (context.Error == NbdError.None)
                {
                    WaitFor(_handler.ExecuteAsync(context, _lifetime.Stopped));
                }

                _handler.WriteReply(replies, context);
                NbdMetrics.RequestAnswered(exportName, request.Command, context.Error, request.Length, context.ReceivedAt);
            }
            finally
            {
                context.Reset(_memory);
                _busy = false;
            }
        }

        replies.Flush();
    }

    /// <summary>
    /// Takes the request's share of the server's memory, blocking this connection's own thread while other
    /// connections hold it all; false if the wait was cancelled (the server's drain ran out).
    /// </summary>
    ValueTask<bool> IRequestPayloadSource.ReserveAsync(RequestContext context, int payloadBytes)
    {
        var share = _memory.CostOf(payloadBytes);
        try
        {
            WaitFor(_memory.AcquireAsync(share, _memoryWaiter, _lifetime.Stopped));
        }
        catch (OperationCanceledException)
        {
            return new ValueTask<bool>(false);
        }

        context.MemoryShare = share;
        return new ValueTask<bool>(true);
    }

    ValueTask<bool> IRequestPayloadSource.ReadPayloadAsync(Memory<byte> destination) =>
        new(_requests.ReadExactly(destination.Span));

    ValueTask<bool> IRequestPayloadSource.SkipPayloadAsync(long length) => new(_requests.Skip(length));

    /// <summary>
    /// Waits here for what the receive step or the export did not finish at once. The receive step always
    /// finishes (this type's payload source blocks instead of waiting), and the export does by contract;
    /// should it not (a lock held by another connection's request), this thread waits, which costs no
    /// thread-pool thread. Completed ValueTasks are read in place, which hands a pooled source back.
    /// </summary>
    private static void WaitFor(ValueTask pending)
    {
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
        }
        else
        {
            pending.AsTask().GetAwaiter().GetResult();
        }
    }

    private static bool WaitFor(ValueTask<bool> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
}
