using System.Buffers;
using System.Runtime.CompilerServices;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;
using BlockSim.Nbd.Server.Handshake;
using BlockSim.Storage.Simulation;
using BlockSim.Storage.Simulation.Faults;
using Microsoft.Extensions.Logging;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// One request against a session, from checking it to writing its reply, with no socket in sight: both
/// transmissions (inline and pipelined) receive a request, then call <see cref="Validate"/>,
/// <see cref="ExecuteAsync"/> and <see cref="WriteReply"/> here. What a request asks of the export and
/// what the client gets back is decided in this type alone.
/// </summary>
/// <param name="dropConnection">Drops the connection at once, for a simulated reset (null: none happens).</param>
internal sealed class NbdRequestHandler(NbdSession session, PayloadMemory memory, ILogger logger, Action? dropConnection = null)
{
    public NbdSession Session => session;

    /// <summary>Checks a request against the protocol and the export, before anything runs.</summary>
    public NbdError Validate(in NbdRequest request)
    {
        var export = session.Export;
        var allowed = request.Command switch
        {
            NbdCommand.Read => NbdCommandFlags.Fua | (session.StructuredReplies ? NbdCommandFlags.DontFragment : 0),
            NbdCommand.Write or NbdCommand.Flush or NbdCommand.Trim or NbdCommand.Cache => NbdCommandFlags.Fua,
            NbdCommand.WriteZeroes => NbdCommandFlags.Fua | NbdCommandFlags.NoHole | (export.CanFastZero ? NbdCommandFlags.FastZero : 0),
            NbdCommand.BlockStatus => NbdCommandFlags.Fua | NbdCommandFlags.ReqOne,
            _ => (NbdCommandFlags?)null,
        };
        if (allowed is null || (request.Command == NbdCommand.Trim && !export.CanTrim))
        {
            return NbdError.Invalid; // unknown or not advertised (RESIZE is not, nor TRIM where the device has none)
        }

        if ((request.Flags & ~allowed.Value) != 0)
        {
            return NbdError.Invalid;
        }

        if (IsWrite(request.Command) && export.IsReadOnly)
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

        if (request.Command == NbdCommand.BlockStatus && (!session.AllocationContext || request.Length == 0))
        {
            return NbdError.Invalid;
        }

        return NbdError.None;
    }

    /// <summary>
    /// Runs a valid request against the export (a READ gets its buffer here; a WRITE's payload is in
    /// <see cref="RequestContext.Buffer"/> already); a failure becomes the request's error, never an exception.
    /// </summary>
    // Pooled builder: this runs once per request and may wait, and an ordinary async ValueTask method
    // allocates its state machine whenever it has to wait.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ExecuteAsync(RequestContext context, CancellationToken cancellationToken)
    {
        var export = session.Export;
        var request = context.Request;
        var offset = (long)request.Offset;
        var fua = (request.Flags & NbdCommandFlags.Fua) != 0;
        try
        {
            switch (request.Command)
            {
                case NbdCommand.Read:
                    context.RentBuffer(memory, (int)request.Length);
                    await export.ReadAsync(offset, context.Buffer.AsMemory(0, (int)request.Length), cancellationToken).ConfigureAwait(false);
                    break;
                case NbdCommand.Write:
                    await export.WriteAsync(offset, context.Buffer.AsMemory(0, (int)request.Length), fua, cancellationToken).ConfigureAwait(false);
                    break;
                case NbdCommand.Flush:
                    await export.FlushAsync(cancellationToken).ConfigureAwait(false);
                    break;
                case NbdCommand.Trim:
                    await export.TrimAsync(offset, request.Length, fua, cancellationToken).ConfigureAwait(false);
                    break;
                case NbdCommand.WriteZeroes:
                    await export.WriteZeroesAsync(
                        offset,
                        request.Length,
                        mayDeallocate: (request.Flags & NbdCommandFlags.NoHole) == 0,
                        fastOnly: (request.Flags & NbdCommandFlags.FastZero) != 0,
                        fua,
                        cancellationToken).ConfigureAwait(false);
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
                RequestFailureLog.Of(export).WriteSucceeded(logger, export.Name);
            }
        }
        catch (NbdException e)
        {
            context.Error = e.Error;
            context.ErrorMessage = e.Message;
            RequestFailureLog.Of(export).Failed(logger, session.Identity.ConnectionId, export.Name, request.Command.ToString(), e.Message);
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
            if (e.ResetsConnection)
            {
                dropConnection?.Invoke(); // the reply, if any is attempted, has nowhere to go
            }
        }
        catch (IOException e) when (IsWrite(request.Command) && RequestFailureLog.IsOutOfSpace(e))
        {
            // A full file system (or quota) is not a failing disk: the client may free space and go on.
            context.Error = NbdError.NoSpace;
            context.ErrorMessage = "no space left on the server's storage";
            RequestFailureLog.Of(export).OutOfSpace(logger, export.Name, e.Message);
        }
        catch (IOException e)
        {
            // The storage's own messages name files on the server: those stay in the log. Only the
            // simulator's faults, made to be seen, tell the client what happened.
            context.Error = NbdError.IO;
            context.ErrorMessage = e is SimulatedIOException ? e.Message : "I/O error on the server's storage (the server log has the reason)";
            RequestFailureLog.Of(export).Failed(logger, session.Identity.ConnectionId, export.Name, request.Command.ToString(), e.Message);
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
            RequestFailureLog.Of(export).Crashed(logger, session.Identity.ConnectionId, export.Name, request.Command.ToString(), e);
        }
    }

    /// <summary>Writes the request's whole reply into <paramref name="output"/>; returns roughly its size in bytes (for flush batching).</summary>
    public long WriteReply(IBufferWriter<byte> output, RequestContext context) =>
        RequestReplies.Write(output, context, session.StructuredReplies);

    /// <summary>A successful READ's reply up to its data, for data sent from its own buffer (see <see cref="RequestReplies.WriteReadHead"/>).</summary>
    public void WriteReadHead(IBufferWriter<byte> output, RequestContext context) =>
        RequestReplies.WriteReadHead(output, context.Request, session.StructuredReplies);

    public static bool IsWrite(NbdCommand command) => command is NbdCommand.Write or NbdCommand.WriteZeroes or NbdCommand.Trim;
}
