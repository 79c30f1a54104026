namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// What the shared receive step (<see cref="RequestReceiver"/>) needs from a transmission: room for a
/// request's payload, and the payload's bytes. The inline transmission answers synchronously from its
/// blocking stream; the pipelined one waits on its pipe and its in-flight limits.
/// </summary>
internal interface IRequestPayloadSource
{
    /// <summary>
    /// Takes the request's share of the in-flight limits for <paramref name="payloadBytes"/> (recorded in the
    /// context, so that returning the context gives it all back); false when the wait was cancelled.
    /// </summary>
    ValueTask<bool> ReserveAsync(RequestContext context, int payloadBytes);

    /// <summary>Fills <paramref name="destination"/> with a WRITE's payload; false when the client left part-way.</summary>
    ValueTask<bool> ReadPayloadAsync(Memory<byte> destination);

    /// <summary>Reads past the payload of a refused WRITE; false when the client left part-way.</summary>
    ValueTask<bool> SkipPayloadAsync(long length);
}
