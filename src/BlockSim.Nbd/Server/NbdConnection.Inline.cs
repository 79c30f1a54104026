using System.Buffers;
using System.Net.Sockets;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server;

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
internal sealed partial class NbdConnection
{
    // Set from reading a request's header to sending its reply; the idle check reads it from a timer thread.
    private volatile bool _inlineBusy;

    private bool CanTransmitInline =>
        _options.InlineTransmission && _transport is not null && Export is { CompletesSynchronously: true };

    /// <summary>
    /// Runs the inline transmission on the connection's own thread: here if the handshake never left it,
    /// else on a new one (a wait in the handshake, such as a key-store call, moved it to the thread pool).
    /// </summary>
    private Task TransmitInlineAsync()
    {
        // Requests a client sent without waiting for the handshake's last reply may already sit in the pipe.
        var stream = _transport!;
        StreamRequestReader requests;
        if (_input.TryRead(out var buffered))
        {
            requests = new StreamRequestReader(stream, buffered.Buffer);
            _input.AdvanceTo(buffered.Buffer.End);
        }
        else
        {
            requests = new StreamRequestReader(stream, ReadOnlySequence<byte>.Empty);
        }

        if (Environment.CurrentManagedThreadId == _ownThreadId)
        {
            try
            {
                TransmitInline(requests, new StreamReplyWriter(stream));
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
                TransmitInline(requests, new StreamReplyWriter(stream));
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e); // RunAsync tells a vanished client from a real failure
            }
        });
        return done.Task;
    }

    private void TransmitInline(StreamRequestReader requests, StreamReplyWriter replies)
    {
        var export = Export!;
        var context = new RequestContext { Connection = this };
        while (!_stopping)
        {
            var status = requests.TryReadRequest(out var request);
            if (status == OperationStatus.NeedMoreData)
            {
                // Nothing more to answer without waiting: send what is answered, then block for more.
                replies.Flush();
                if (!requests.HasBufferedBytes)
                {
                    SpinForNextRequest();
                }

                if (!requests.Fill())
                {
                    return;
                }

                continue;
            }

            _lastActivity = Environment.TickCount64;
            if (status == OperationStatus.InvalidData)
            {
                replies.Flush();
                Violation("request without the request magic");
                return;
            }

            if (request.Command == NbdCommand.Disconnect)
            {
                break; // no reply
            }

            _inlineBusy = true;
            try
            {
                if (!ReceiveInline(requests, context, request, export))
                {
                    return; // the client left in the middle of a WRITE payload
                }

                if (context.Error == NbdError.None)
                {
                    RunInline(context);
                }

                WriteReply(replies, context);
                NbdMetrics.RequestAnswered(export.Name, request.Command, context.Error, request.Length, context.ReceivedAt);
            }
            finally
            {
                context.Reset(_memory);
                _inlineBusy = false;
            }
        }

        replies.Flush();
    }

    /// <summary>Checks a request and takes in its WRITE payload; false when the client left part-way through it.</summary>
    private bool ReceiveInline(StreamRequestReader requests, RequestContext context, NbdRequest request, Exports.INbdExport export)
    {
        context.ReceivedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        context.Request = request;
        context.Error = Validate(request, export);
        if (context.Error == NbdError.None && request.Command is NbdCommand.Read or NbdCommand.Write && !TryReserveInline(context))
        {
            context.Error = NbdError.Shutdown;
            context.ErrorMessage = "the server is shutting down";
        }

        if (request.Command == NbdCommand.Write)
        {
            if (context.Error != NbdError.None)
            {
                return requests.Skip(request.Length);
            }

            context.RentBuffer(_memory, (int)request.Length);
            if (!requests.ReadExactly(context.Buffer.AsSpan(0, (int)request.Length)))
            {
                return false;
            }
        }

        if (context.Error == NbdError.None && _stopping)
        {
            context.Error = NbdError.Shutdown;
            context.ErrorMessage = "the server is shutting down";
        }

        return true;
    }

    /// <summary>
    /// Takes the request's share of the server's memory, blocking this connection's own thread while other
    /// connections hold it all; false if the wait was cancelled (the server's drain ran out).
    /// </summary>
    private bool TryReserveInline(RequestContext context)
    {
        var share = _memory.CostOf((int)context.Request.Length);
        var wait = _memory.AcquireAsync(share, _memoryWaiter, _stop.Token);
        try
        {
            if (wait.IsCompletedSuccessfully)
            {
                wait.GetAwaiter().GetResult();
            }
            else
            {
                wait.AsTask().GetAwaiter().GetResult();
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        context.MemoryShare = share;
        return true;
    }

    /// <summary>
    /// Runs the request on this thread. The export finishes synchronously by contract; should it not (a
    /// lock held by another connection's request), this thread waits, which costs no thread-pool thread.
    /// </summary>
    private void RunInline(RequestContext context)
    {
        var running = ProcessAsync(context);
        if (running.IsCompletedSuccessfully)
        {
            running.GetAwaiter().GetResult(); // hands a pooled ValueTask source back
        }
        else
        {
            running.AsTask().GetAwaiter().GetResult();
        }
    }

    // Connections spinning at once, over the process: spinning helps only while cores are free for it.
    private static int s_spinning;
    private static readonly int s_maxSpinning = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>
    /// Before a blocking read with nothing buffered, watches the socket for <see cref="NbdServerOptions.InlineSpin"/>:
    /// a client that sends its next request within that time (one request at a time, QD1) finds this thread
    /// awake instead of paying for a wake-up, which on a VM costs more than the request (measured: 4,500
    /// against 18,000 4 KiB reads per second at QD1 with 50 µs). At most half the cores spin at once.
    /// It watches with poll(2), which reads the socket's state without its lock: FIONREAD (Socket.Available)
    /// takes the lock that the client's sends need to deliver into this socket, and poll also ends the spin
    /// at once on end of stream or an error (Available stays 0 there).
    /// </summary>
    private void SpinForNextRequest()
    {
        var spin = _options.InlineSpin;
        if (_socket is null || spin <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            if (Interlocked.Increment(ref s_spinning) > s_maxSpinning)
            {
                return;
            }

            var until = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(spin.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
            while (!_socket.Poll(0, SelectMode.SelectRead) && System.Diagnostics.Stopwatch.GetTimestamp() < until)
            {
                Thread.SpinWait(20);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Closed meanwhile: the read that follows reports it.
        }
        finally
        {
            Interlocked.Decrement(ref s_spinning);
        }
    }

    /// <summary>Shuts the socket's receive side, which wakes a blocking read (inline) or a pending one (pipelined) with end of stream.</summary>
    private void ShutDownReceiving() => ShutDownSocket(SocketShutdown.Receive);

    private void ShutDownSocket(SocketShutdown how)
    {
        try
        {
            _socket?.Shutdown(how);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed: nothing left to wake.
        }
    }
}
