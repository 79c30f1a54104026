using System.Diagnostics;
using System.Runtime.CompilerServices;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// The receive step both transmissions share: after a request's header is parsed, check it, reserve room
/// for its payload, and take in a WRITE's payload (or read past it when the request is refused), so that
/// the request is whole before it runs or is answered.
/// </summary>
internal sealed class RequestReceiver(NbdRequestHandler handler, IRequestPayloadSource source, PayloadMemory memory, ConnectionLifetime lifetime)
{
    /// <summary>
    /// Fills <paramref name="context"/> for <paramref name="request"/>. Afterwards a context without an error
    /// is ready to run; one with an error is to be answered as it is. False when the client left in the
    /// middle of a WRITE payload: the request is never whole, so it is never run and never answered (a
    /// reply would say it was written).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReceiveAsync(RequestContext context, NbdRequest request)
    {
        context.ReceivedAt = Stopwatch.GetTimestamp();
        context.Request = request;
        context.Error = handler.Validate(request);

        var carriesPayload = request.Command is NbdCommand.Write or NbdCommand.Read && context.Error == NbdError.None;
        var payloadBytes = carriesPayload ? (int)request.Length : 0;
        if (carriesPayload && !await source.ReserveAsync(context, payloadBytes).ConfigureAwait(false))
        {
            // Cancelled only once the connection stops: answered ESHUTDOWN, after which receiving ends.
            Refuse(context);
        }

        if (request.Command == NbdCommand.Write)
        {
            if (context.Error != NbdError.None)
            {
                return await source.SkipPayloadAsync(request.Length).ConfigureAwait(false);
            }

            context.RentBuffer(memory, payloadBytes);
            if (!await source.ReadPayloadAsync(context.Buffer.AsMemory(0, payloadBytes)).ConfigureAwait(false))
            {
                return false;
            }
        }

        if (context.Error == NbdError.None && lifetime.IsStopping)
        {
            Refuse(context);
        }

        return true;
    }

    private static void Refuse(RequestContext context)
    {
        context.Error = NbdError.Shutdown;
        context.ErrorMessage = "the server is shutting down";
    }
}
