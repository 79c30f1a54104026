using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// One request in flight. Contexts are pooled per connection (<see cref="InFlightRequests"/>) and are their
/// own thread-pool work item in the pipelined transmission, so starting a request allocates nothing;
/// payload buffers come from the server's <see cref="PayloadMemory"/>, whose budget the request holds a
/// share of (<see cref="MemoryShare"/>) until its reply has left.
/// </summary>
internal sealed class RequestContext : IThreadPoolWorkItem
{
    public const int MaxExtents = 64;

    public readonly NbdExtent[] Extents = new NbdExtent[MaxExtents];

    /// <summary>The pipelined transmission that runs this request when the thread pool calls <see cref="Execute"/> (null inline).</summary>
    public PipelinedTransmission? Owner;
    public NbdRequest Request;
    public byte[]? Buffer;
    public int Credits;
    public long MemoryShare;
    public NbdError Error;
    public string? ErrorMessage;
    public int ExtentCount;
    public long ReceivedAt;

    public void Execute() => Owner!.Process(this);

    public void RentBuffer(PayloadMemory memory, int length) => Buffer = memory.Rent(length);

    /// <summary>Gives the buffer back early (its bytes were copied out) while the request keeps its share.</summary>
    public void ReturnBuffer(PayloadMemory memory)
    {
        if (Buffer is not null)
        {
            memory.Return(Buffer);
            Buffer = null;
        }
    }

    /// <summary>Gives back the buffer and the share; the caller releases <see cref="Credits"/> (its connection's).</summary>
    public void Reset(PayloadMemory memory)
    {
        memory.Release(MemoryShare, Buffer);
        Buffer = null;
        MemoryShare = 0;
        Request = default;
        Credits = 0;
        Error = NbdError.None;
        ErrorMessage = null;
        ExtentCount = 0;
    }
}
