using System.Buffers;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server;

/// <summary>
/// One request in flight. Contexts are pooled per connection and are their own thread-pool work item,
/// so starting a request allocates nothing; payload buffers come from <see cref="ArrayPool{T}"/>.
/// </summary>
internal sealed class RequestContext : IThreadPoolWorkItem
{
    public const int MaxExtents = 64;

    public readonly NbdExtent[] Extents = new NbdExtent[MaxExtents];

    public NbdConnection Connection = null!;
    public NbdRequest Request;
    public byte[]? Buffer;
    public int Credits;
    public NbdError Error;
    public string? ErrorMessage;
    public int ExtentCount;
    public long ReceivedAt;

    private static long s_rentedBuffers;

    /// <summary>Payload buffers rented and not yet returned, over all connections (a leak check for soak tests).</summary>
    public static long RentedBuffers => Interlocked.Read(ref s_rentedBuffers);

    public void Execute() => Connection.Process(this);

    public void RentBuffer(int length)
    {
        Buffer = ArrayPool<byte>.Shared.Rent(length);
        Interlocked.Increment(ref s_rentedBuffers);
    }

    public void Reset()
    {
        if (Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
            Interlocked.Decrement(ref s_rentedBuffers);
            Buffer = null;
        }

        Request = default;
        Credits = 0;
        Error = NbdError.None;
        ErrorMessage = null;
        ExtentCount = 0;
    }
}
