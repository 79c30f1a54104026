using BlockSim.Nbd.Protocol;

namespace BlockSim.Nbd.Server;

/// <summary>
/// The payload memory of one server, over all its connections: a budget every WRITE payload and READ reply
/// is counted against from the moment its request is read until its reply has left for the socket, and the
/// buffers that hold them. The pool keeps the buffers it is given back, so a steady load allocates nothing,
/// but only as many as the budget leaves free: buffers held by requests plus buffers kept never exceed
/// <see cref="Limit"/>. A receive loop that cannot get its request's share waits (and so stops reading its
/// socket) until replies elsewhere have gone out.
/// </summary>
internal sealed class PayloadMemory
{
    /// <summary>The smallest buffer handed out; smaller payloads share its size class.</summary>
    public const int SmallestBuffer = 4096;

    private static readonly int s_classes = SizeClass(NbdLimits.MaxPayload) + 1;

    private readonly Lock _gate = new();
    private readonly Stack<byte[]>[] _free;
    private long _held;
    private long _retained;
    private long _rented;

    // Receive loops waiting for a share, first come first served (a large request at the head is not
    // overtaken by small ones for ever). Intrusive, so queueing a waiter allocates nothing.
    private PayloadWaiter? _head;
    private PayloadWaiter? _tail;

    public PayloadMemory(long limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, SmallestBuffer);
        Limit = limit;
        _free = new Stack<byte[]>[s_classes];
        for (var i = 0; i < _free.Length; i++)
        {
            _free[i] = new Stack<byte[]>();
        }
    }

    /// <summary>A quarter of the memory this process may use (the machine's, or its cgroup's limit), and at least 256 MiB.</summary>
    public static long DefaultLimit => Math.Max(256L << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

    public long Limit { get; }

    /// <summary>Bytes granted to requests now in flight.</summary>
    public long Held
    {
        get
        {
            lock (_gate)
            {
                return _held;
            }
        }
    }

    /// <summary>Bytes of free buffers the pool keeps for reuse.</summary>
    public long Retained
    {
        get
        {
            lock (_gate)
            {
                return _retained;
            }
        }
    }

    /// <summary>Buffers handed out and not yet given back (a leak check for tests).</summary>
    public long RentedBuffers => Interlocked.Read(ref _rented);

    /// <summary>
    /// The share of the budget a payload of <paramref name="length"/> bytes takes: the size of the buffer
    /// that holds it, but never more than the whole budget (so any one request can run, alone).
    /// </summary>
    public long CostOf(int length) => Math.Min(Limit, BufferSize(length));

    /// <summary>Takes <paramref name="bytes"/> of the budget, waiting (FIFO) while it is spent elsewhere.</summary>
    /// <param name="waiter">The caller's own waiter, reused from one wait to the next; one wait at a time.</param>
    public ValueTask AcquireAsync(long bytes, PayloadWaiter waiter, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_head is null && _held + bytes <= Limit)
            {
                Grant(bytes);
                return default;
            }

            waiter.Prepare(this, bytes);
            if (_tail is null)
            {
                _head = _tail = waiter;
            }
            else
            {
                _tail.Next = waiter;
                waiter.Previous = _tail;
                _tail = waiter;
            }
        }

        return waiter.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Gives back a share taken by <see cref="AcquireAsync"/> and the request's buffer, if it still has one
    /// (kept if the budget has room), and grants what that frees to the next waiters.
    /// </summary>
    public void Release(long share, byte[]? buffer = null)
    {
        if (share == 0 && buffer is null)
        {
            return;
        }

        lock (_gate)
        {
            _held -= share;
            if (buffer is not null)
            {
                ReturnLocked(buffer);
            }

            while (_head is { } next && _held + next.Bytes <= Limit)
            {
                Unlink(next);
                Grant(next.Bytes);
                next.Granted(); // its continuation runs elsewhere, never under this lock
            }
        }
    }

    /// <summary>A buffer of at least <paramref name="length"/> bytes, whose share the caller already holds.</summary>
    public byte[] Rent(int length)
    {
        var sizeClass = SizeClass(length);
        Interlocked.Increment(ref _rented);
        lock (_gate)
        {
            if (_free[sizeClass].TryPop(out var kept))
            {
                _retained -= kept.Length;
                return kept;
            }
        }

        return GC.AllocateUninitializedArray<byte>(SmallestBuffer << sizeClass);
    }

    /// <summary>Takes a buffer back while its request keeps its share (its bytes were copied out).</summary>
    public void Return(byte[] buffer)
    {
        lock (_gate)
        {
            ReturnLocked(buffer);
        }
    }

    /// <summary>Keeps a buffer for the next request if the budget has room, otherwise leaves it to the collector.</summary>
    private void ReturnLocked(byte[] buffer)
    {
        Interlocked.Decrement(ref _rented);
        if (_held + _retained + buffer.Length <= Limit)
        {
            _free[SizeClass(buffer.Length)].Push(buffer);
            _retained += buffer.Length;
        }
    }

    /// <summary>Called by a waiter whose wait was cancelled: true if it was still queued (and is now not), false if already granted.</summary>
    internal bool TryWithdraw(PayloadWaiter waiter)
    {
        lock (_gate)
        {
            if (waiter.Previous is null && _head != waiter)
            {
                return false;
            }

            Unlink(waiter);
            return true;
        }
    }

    private void Grant(long bytes)
    {
        _held += bytes;

        // Kept buffers give way to requests in flight: drop the largest until both fit in the budget.
        for (var sizeClass = _free.Length - 1; sizeClass >= 0 && _held + _retained > Limit; sizeClass--)
        {
            while (_held + _retained > Limit && _free[sizeClass].TryPop(out var dropped))
            {
                _retained -= dropped.Length;
            }
        }
    }

    private void Unlink(PayloadWaiter waiter)
    {
        if (waiter.Previous is null)
        {
            _head = waiter.Next;
        }
        else
        {
            waiter.Previous.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _tail = waiter.Previous;
        }
        else
        {
            waiter.Next.Previous = waiter.Previous;
        }

        waiter.Next = waiter.Previous = null;
    }

    private static long BufferSize(int length) => (long)SmallestBuffer << SizeClass(length);

    private static int SizeClass(int length) =>
        length <= SmallestBuffer ? 0 : 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(length - 1)) - 12;
}
