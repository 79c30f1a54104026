using System.Buffers;
using System.Runtime.CompilerServices;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Storage.Simulation.Faults;

namespace BlockSim.Nbd.Server;

/// <summary>
/// The transmission phase. A receive loop parses requests and hands each to the thread pool; requests
/// run concurrently and finish in any order; one sender loop writes each finished request's reply whole
/// into the output pipe. Limits on requests and payload bytes in flight stop the receive loop (and so the
/// socket) when the client runs ahead.
/// </summary>
internal sealed partial class NbdConnection
{
    private const int CreditSize = 256 * 1024;

    private int MaxCredits { get; }

    private async Task TransmitAsync()
    {
        using var idleCheck = _options.IdleTimeout > TimeSpan.Zero
            ? TimeProvider.System.CreateTimer(_ => CloseIfIdle(), null, _options.IdleTimeout / 4, _options.IdleTimeout / 4)
            : null;
        try
        {
            if (CanTransmitInline)
            {
                await TransmitInlineAsync().ConfigureAwait(false);
            }
            else
            {
                _blockingSocket?.SwitchToAsynchronous();
                await TransmitPipelinedAsync().ConfigureAwait(false);
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

    private async Task TransmitPipelinedAsync()
    {
        var sender = SendLoopAsync();
        try
        {
            await ReceiveLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            // Let every request already started finish and be answered, then stop the sender.
            for (var i = 0; i < _options.MaxInFlightRequests; i++)
            {
                await _requestSlots.WaitAsync().ConfigureAwait(false);
            }

            _finished.Writer.TryComplete();
            await sender.ConfigureAwait(false);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var export = Export!;
        while (!_stopping)
        {
            var (status, request) = await ReadRequestAsync().ConfigureAwait(false);
            _lastActivity = Environment.TickCount64;
            if (status != OperationStatus.Done || _departed)
            {
                if (status == OperationStatus.InvalidData)
                {
                    Violation("request without the request magic");
                }

                return;
            }

            if (request.Command == NbdCommand.Disconnect)
            {
                return; // no reply; what is in flight is finished by TransmitAsync
            }

            try
            {
                await _requestSlots.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return; // the client has gone (or the server's drain ran out): nothing more is started
            }

            var context = RentContext();
            context.ReceivedAt = System.Diagnostics.Stopwatch.GetTimestamp();
            context.Request = request;
            context.Error = Validate(request, export);

            var payloadBytes = request.Command is NbdCommand.Write or NbdCommand.Read && context.Error == NbdError.None
                ? (int)request.Length
                : 0;
            if (!await TryReserveAsync(context, payloadBytes).ConfigureAwait(false))
            {
                Finish(context);
                return;
            }

            if (request.Command == NbdCommand.Write)
            {
                if (context.Error == NbdError.None)
                {
                    context.RentBuffer(_memory, payloadBytes);
                    if (!await ReadPayloadAsync(context.Buffer.AsMemory(0, payloadBytes)).ConfigureAwait(false))
                    {
                        ReturnContext(context); // never whole, so never run and never answered (a reply would say it was written)
                        return;
                    }
                }
                else if (!await SkipPayloadAsync(request.Length).ConfigureAwait(false))
                {
                    ReturnContext(context);
                    return;
                }
            }

            if (context.Error == NbdError.None && _stopping)
            {
                context.Error = NbdError.Shutdown;
                context.ErrorMessage = "the server is shutting down";
            }

            if (context.Error != NbdError.None)
            {
                Finish(context);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(context, preferLocal: false);
            }
        }
    }

    /// <summary>
    /// Waits for the request's share of this connection's in-flight bytes, then of the server's memory; false
    /// when the wait was cancelled (the client left), with whatever was taken recorded in the context so that
    /// returning it gives it all back.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> TryReserveAsync(RequestContext context, int payloadBytes)
    {
        if (payloadBytes == 0)
        {
            return true;
        }

        try
        {
            var credits = Math.Min(MaxCredits, (payloadBytes + CreditSize - 1) / CreditSize);
            while (context.Credits < credits)
            {
                await _byteCredits.WaitAsync(_stop.Token).ConfigureAwait(false);
                context.Credits++;
            }

            var share = _memory.CostOf(payloadBytes);
            await _memory.AcquireAsync(share, _memoryWaiter, _stop.Token).ConfigureAwait(false);
            context.MemoryShare = share;
            return true;
        }
        catch (OperationCanceledException)
        {
            context.Error = NbdError.Shutdown;
            context.ErrorMessage = "the server is shutting down";
            return false;
        }
    }

    /// <summary>
    /// Timer callback: with nothing in flight and nothing received for the idle timeout, wake the receive
    /// loop so it ends (a client in the middle of sending a request holds a slot, or is busy inline, so it
    /// is never idle).
    /// </summary>
    private void CloseIfIdle()
    {
        if (NothingInFlight && Environment.TickCount64 - Volatile.Read(ref _lastActivity) >= (long)_options.IdleTimeout.TotalMilliseconds)
        {
            _idleClosed = true;
            _stopping = true;
            _input.CancelPendingRead();
            ShutDownReceiving();
        }
    }

    /// <summary>No request is being read, run or answered (the idle timeout and idle reclaim ask this).</summary>
    private bool NothingInFlight => _requestSlots.CurrentCount == _options.MaxInFlightRequests && !_inlineBusy;

    /// <summary>Reads one request header; NeedMoreData here means the client left (or the server stops).</summary>
    // Pooled builders: these run once per request and often wait, and an ordinary async ValueTask
    // method allocates its state machine whenever it has to wait.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(OperationStatus Status, NbdRequest Request)> ReadRequestAsync()
    {
        while (true)
        {
            var result = await _input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            var status = NbdRequest.TryRead(ref reader, out var request);
            if (status == OperationStatus.Done)
            {
                _input.AdvanceTo(reader.Position);
                return (status, request);
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (status == OperationStatus.InvalidData || result.IsCompleted || result.IsCanceled)
            {
                return (status, default);
            }
        }
    }

    /// <summary>
    /// Copies a WRITE payload out of the pipe as it arrives; false if the client left mid-payload, by closing
    /// or by a reset. A reset must not escape as an exception: the request already holds a slot, and only
    /// finishing it releases that (an escaped reset once left a connection, and so a server stop, waiting forever).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadPayloadAsync(Memory<byte> destination)
    {
        try
        {
            while (!destination.IsEmpty)
            {
                var result = await _input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                var take = (int)Math.Min(destination.Length, buffer.Length);
                buffer.Slice(0, take).CopyTo(destination.Span);
                _input.AdvanceTo(buffer.GetPosition(take));
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

    /// <summary>Skips the payload of a refused WRITE; false when the client left part-way (see <see cref="ReadPayloadAsync"/>).</summary>
    private async ValueTask<bool> SkipPayloadAsync(long length)
    {
        try
        {
            return await SkipAsync(length, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Checks a request against the protocol and the export, before anything runs.</summary>
    private NbdError Validate(NbdRequest request, INbdExport export)
    {
        var allowed = request.Command switch
        {
            NbdCommand.Read => NbdCommandFlags.Fua | (_structuredReplies ? NbdCommandFlags.DontFragment : 0),
            NbdCommand.Write or NbdCommand.Flush or NbdCommand.Trim or NbdCommand.Cache => NbdCommandFlags.Fua,
            NbdCommand.WriteZeroes => NbdCommandFlags.Fua | NbdCommandFlags.NoHole | NbdCommandFlags.FastZero,
            NbdCommand.BlockStatus => NbdCommandFlags.Fua | NbdCommandFlags.ReqOne,
            _ => (NbdCommandFlags?)null,
        };
        if (allowed is null)
        {
            return NbdError.Invalid; // unknown command (RESIZE is not advertised either)
        }

        if ((request.Flags & ~allowed.Value) != 0)
        {
            return NbdError.Invalid;
        }

        var isWrite = request.Command is NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes;
        if (isWrite && export.IsReadOnly)
        {
            return NbdError.NotPermitted;
        }

        if (request.Command is NbdCommand.Read or NbdCommand.Write && request.Length > NbdLimits.MaxPayload)
        {
            return NbdError.Overflow;
        }

        if (request.Command == NbdCommand.Flush)
        {
            return NbdError.None;
        }

        var end = request.Offset + request.Length;
        if (end < request.Offset || end > (ulong)export.Size)
        {
            return request.Command is NbdCommand.Write or NbdCommand.WriteZeroes ? NbdError.NoSpace : NbdError.Invalid;
        }

        if (request.Command == NbdCommand.BlockStatus && (!_allocationSelected || request.Length == 0))
        {
            return NbdError.Invalid;
        }

        return NbdError.None;
    }

    /// <summary>Runs one request on a thread-pool thread (called through <see cref="RequestContext.Execute"/>).</summary>
    internal void Process(RequestContext context) => _ = ProcessAndFinishAsync(context);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessAndFinishAsync(RequestContext context)
    {
        await ProcessAsync(context).ConfigureAwait(false);
        Finish(context);
    }

    /// <summary>Runs one request against the export; a failure becomes the request's error, never an exception.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessAsync(RequestContext context)
    {
        var export = Export!;
        var request = context.Request;
        var offset = (long)request.Offset;
        var fua = (request.Flags & NbdCommandFlags.Fua) != 0;
        if (_departed)
        {
            context.Error = NbdError.Shutdown; // queued before the client left: its reply has nowhere to go
            return;
        }

        try
        {
            switch (request.Command)
            {
                case NbdCommand.Read:
                    context.RentBuffer(_memory, (int)request.Length);
                    await export.ReadAsync(offset, context.Buffer.AsMemory(0, (int)request.Length), _stop.Token).ConfigureAwait(false);
                    break;
                case NbdCommand.Write:
                    await export.WriteAsync(offset, context.Buffer.AsMemory(0, (int)request.Length), fua, _stop.Token).ConfigureAwait(false);
                    break;
                case NbdCommand.Flush:
                    await export.FlushAsync(_stop.Token).ConfigureAwait(false);
                    break;
                case NbdCommand.Trim:
                    await export.TrimAsync(offset, request.Length, fua, _stop.Token).ConfigureAwait(false);
                    break;
                case NbdCommand.WriteZeroes:
                    await export.WriteZeroesAsync(
                        offset,
                        request.Length,
                        mayDeallocate: (request.Flags & NbdCommandFlags.NoHole) == 0,
                        fastOnly: (request.Flags & NbdCommandFlags.FastZero) != 0,
                        fua,
                        _stop.Token).ConfigureAwait(false);
                    break;
                case NbdCommand.Cache:
                    break; // advisory; nothing to prefetch for the exports served so far
                case NbdCommand.BlockStatus:
                    var extents = (request.Flags & NbdCommandFlags.ReqOne) != 0 ? context.Extents.AsSpan(0, 1) : context.Extents;
                    context.ExtentCount = export.GetAllocation(offset, request.Length, extents);
                    break;
            }

            if (RequestFailureLog.AnyOutOfSpace && IsWrite(request.Command))
            {
                RequestFailureLog.Of(export).WriteSucceeded(_logger, export.Name);
            }
        }
        catch (NbdException e)
        {
            context.Error = e.Error;
            context.ErrorMessage = e.Message;
            RequestFailureLog.Of(export).Failed(_logger, Id, export.Name, request.Command.ToString(), e.Message);
        }
        catch (InjectedFaultException e)
        {
            // The simulator's doing, logged in the export's event log: the client gets the errno the rule chose.
            context.Error = e.Errno switch
            {
                FaultRule.ENOSPC => NbdError.NoSpace,
                FaultRule.EPERM => NbdError.NotPermitted,
                FaultRule.ESHUTDOWN => NbdError.Shutdown,
                _ => NbdError.IO,
            };
            context.ErrorMessage = e.Message;
        }
        catch (IOException e) when (IsWrite(request.Command) && RequestFailureLog.IsOutOfSpace(e))
        {
            // A full file system (or quota) is not a failing disk: the client may free space and go on.
            context.Error = NbdError.NoSpace;
            context.ErrorMessage = "no space left on the server's storage";
            RequestFailureLog.Of(export).OutOfSpace(_logger, export.Name, e.Message);
        }
        catch (IOException e)
        {
            context.Error = NbdError.IO;
            context.ErrorMessage = e.Message;
            RequestFailureLog.Of(export).Failed(_logger, Id, export.Name, request.Command.ToString(), e.Message);
        }
        catch (OperationCanceledException)
        {
            context.Error = NbdError.Shutdown;
            context.ErrorMessage = "the server is shutting down";
        }
        catch (Exception e)
        {
            context.Error = NbdError.IO;
            context.ErrorMessage = "internal error";
            RequestFailureLog.Of(export).Crashed(_logger, Id, export.Name, request.Command.ToString(), e);
        }
    }

    private static bool IsWrite(NbdCommand command) => command is NbdCommand.Write or NbdCommand.WriteZeroes or NbdCommand.Trim;

    private void Finish(RequestContext context) => _finished.Writer.TryWrite(context);

    /// <summary>
    /// Writes each finished request's reply whole, then flushes once per batch, or sooner once
    /// <see cref="FlushThreshold"/> bytes are waiting. A large READ's data is not copied: it goes from its
    /// buffer to the socket (with whatever replies are waiting ahead of it). A request gives back its slot,
    /// credits and share of the server's memory only once its reply has left for the socket.
    /// </summary>
    private async Task SendLoopAsync()
    {
        var reader = _finished.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            long pending = 0;
            while (reader.TryRead(out var context))
            {
                NbdMetrics.RequestAnswered(Export!.Name, context.Request.Command, context.Error, context.Request.Length, context.ReceivedAt);
                if (_departed)
                {
                    ReturnContext(context);
                }
                else if (IsDirectRead(context))
                {
                    WriteReplyHead(_output, context);
                    _unflushed.Add(context);
                    await TrySendAsync(context.Buffer.AsMemory(0, (int)context.Request.Length)).ConfigureAwait(false);
                    pending = 0;
                }
                else
                {
                    pending += WriteReply(_output, context);
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

    private const int FlushThreshold = 512 * 1024;

    /// <summary>READ data at least this long goes to the socket straight from its buffer.</summary>
    private const int DirectReadThreshold = 64 * 1024;

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
            ReturnContext(sent);
        }

        _unflushed.Clear();
        if (gone)
        {
            ClientDeparted();
        }
    }

    /// <summary>
    /// The client closed or reset its connection: stop reading, drop what it queued and cancel what runs, so
    /// its slot, threads and memory are free at once instead of serving replies nobody will read.
    /// </summary>
    private void ClientDeparted()
    {
        if (_departed)
        {
            return;
        }

        _departed = true;
        _stopping = true;
        _input.CancelPendingRead();
        ShutDownReceiving();
        try
        {
            _stop.Cancel();
        }
        catch (AggregateException)
        {
            // a callback of a cancelled request failed; the request reports its own end
        }
    }

    private RequestContext RentContext()
    {
        if (!_contextPool.TryDequeue(out var context))
        {
            context = new RequestContext { Connection = this };
        }

        return context;
    }

    /// <summary>Gives back what a request holds (safe from the sender and from the receive loop, for a request never whole).</summary>
    private void ReturnContext(RequestContext context)
    {
        var credits = context.Credits;
        context.Reset(_memory);
        _contextPool.Enqueue(context);
        if (credits > 0)
        {
            _byteCredits.Release(credits);
        }

        // A reply is activity too: a request that ran longer than the idle timeout must not leave its
        // connection looking idle the moment its slot is free, before the reply has even been flushed.
        Volatile.Write(ref _lastActivity, Environment.TickCount64);
        _requestSlots.Release();
    }
}
