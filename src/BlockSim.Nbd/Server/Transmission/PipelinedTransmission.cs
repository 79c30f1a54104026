using System.Buffers;
using System.Runtime.CompilerServices;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server.Transport;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// The pipelined transmission: a receive loop parses requests from the input pipe and hands each to the
/// thread pool; requests run concurrently and finish in any order; the <see cref="ReplySender"/> writes
/// each finished request's reply whole. The <see cref="InFlightRequests"/> limits stop the receive loop
/// (and so the socket) when the client runs ahead. For exports that may take their time (simulated
/// latency, throttling): their requests overlap as on a real queue.
/// </summary>
internal sealed class PipelinedTransmission : ITransmission, IRequestPayloadSource
{
    private readonly ConnectionTransport _transport;
    private readonly NbdRequestHandler _handler;
    private readonly ConnectionLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly InFlightRequests _inFlight;
    private readonly ReplySender _sender;
    private readonly RequestReceiver _receiver;

    public PipelinedTransmission(ConnectionTransport transport, NbdRequestHandler handler, NbdServerOptions options, PayloadMemory memory, ConnectionLifetime lifetime, ILogger logger)
    {
        _transport = transport;
        _handler = handler;
        _lifetime = lifetime;
        _logger = logger;
        _inFlight = new InFlightRequests(options, memory, lifetime, this);
        _sender = new ReplySender(transport.Output, handler, memory, _inFlight, lifetime, options.MaxInFlightRequests);
        _receiver = new RequestReceiver(handler, this, memory, lifetime);
    }

    public bool NothingInFlight => _inFlight.IsEmpty;

    public async Task RunAsync()
    {
        var sender = _sender.RunAsync();
        try
        {
            await ReceiveLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            // Let every request already started finish and be answered, then stop the sender.
            await _inFlight.WaitUntilEmptyAsync().ConfigureAwait(false);
            _sender.Complete();
            await sender.ConfigureAwait(false);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        while (!_lifetime.IsStopping)
        {
            var (status, request) = await ReadRequestAsync().ConfigureAwait(false);
            _lifetime.Touch();
            if (status != OperationStatus.Done || _lifetime.HasDeparted)
            {
                if (status == OperationStatus.InvalidData)
                {
                    ServerLog.ProtocolViolation(_logger, _handler.Session.Identity.ConnectionId, "request without the request magic");
                }

                return;
            }

            if (request.Command == NbdCommand.Disconnect)
            {
                return; // no reply; what is in flight is finished by RunAsync
            }

            if (!await _inFlight.WaitForSlotAsync().ConfigureAwait(false))
            {
                return; // the client has gone (or the server's drain ran out): nothing more is started
            }

            var context = _inFlight.Rent();
            if (!await _receiver.ReceiveAsync(context, request).ConfigureAwait(false))
            {
                _inFlight.Return(context); // never whole, so never run and never answered
                return;
            }

            if (context.Error != NbdError.None)
            {
                _sender.Enqueue(context);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(context, preferLocal: false);
            }
        }
    }

    /// <summary>Runs one request on a thread-pool thread (called through <see cref="RequestContext.Execute"/>).</summary>
    internal void Process(RequestContext context) => _ = ProcessAndFinishAsync(context);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessAndFinishAsync(RequestContext context)
    {
        if (_lifetime.HasDeparted)
        {
            context.Error = NbdError.Shutdown; // queued before the client left: its reply has nowhere to go
        }
        else
        {
            await _handler.ExecuteAsync(context, _lifetime.Stopped).ConfigureAwait(false);
        }

        _sender.Enqueue(context);
    }

    /// <summary>Reads one request header; NeedMoreData here means the client left (or the server stops).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(OperationStatus Status, NbdRequest Request)> ReadRequestAsync()
    {
        var input = _transport.Input;
        while (true)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = TryParse(buffer, out var request, out var consumed);
            if (status == OperationStatus.Done)
            {
                input.AdvanceTo(consumed);
                return (status, request);
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (status == OperationStatus.InvalidData || result.IsCompleted || result.IsCanceled)
            {
                return (status, default);
            }
        }
    }

    private static OperationStatus TryParse(ReadOnlySequence<byte> buffer, out NbdRequest request, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        var status = NbdRequest.TryRead(ref reader, out request);
        consumed = reader.Position;
        return status;
    }

    ValueTask<bool> IRequestPayloadSource.ReserveAsync(RequestContext context, int payloadBytes) =>
        _inFlight.ReserveAsync(context, payloadBytes);

    /// <summary>
    /// Copies a WRITE payload out of the pipe as it arrives; false if the client left mid-payload, by closing
    /// or by a reset. A reset must not escape as an exception: the request already holds a slot, and only
    /// finishing it releases that (an escaped reset once left a connection, and so a server stop, waiting forever).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    async ValueTask<bool> IRequestPayloadSource.ReadPayloadAsync(Memory<byte> destination)
    {
        var input = _transport.Input;
        try
        {
            while (!destination.IsEmpty)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var take = (int)Math.Min(destination.Length, buffer.Length);
                buffer.Slice(0, take).CopyTo(destination.Span);
                input.AdvanceTo(buffer.GetPosition(take));
                destination = destination[take..];
                if (!destination.IsEmpty && (result.IsCompleted || result.IsCanceled))
                {
                    return false;
                }
            }

            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Skips the payload of a refused WRITE; false when the client left part-way (a reset too, as above).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    async ValueTask<bool> IRequestPayloadSource.SkipPayloadAsync(long length)
    {
        try
        {
            return await _transport.SkipAsync(length, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false;
        }
    }
}
