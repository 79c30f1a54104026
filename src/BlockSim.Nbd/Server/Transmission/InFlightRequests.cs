using System.Runtime.CompilerServices;
using Microsoft.Extensions.ObjectPool;

namespace BlockSim.Nbd.Server.Transmission;

/// <summary>
/// The pipelined transmission's limits on what one connection has in flight: request slots, credits for
/// payload bytes, and each request's share of the server's memory, held from reading a request until its
/// reply has left for the socket, together with the pool of request contexts that carry them. When a limit
/// is reached the receive loop waits, and so stops reading the socket: the client is held back.
/// </summary>
internal sealed class InFlightRequests
{
    private const int CreditSize = 256 * 1024;

    private readonly int _maxRequests;
    private readonly int _maxCredits;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _credits;
    private readonly DefaultObjectPool<RequestContext> _pool;
    private readonly PayloadMemory _memory;
    private readonly PayloadWaiter _memoryWaiter = new();
    private readonly ConnectionLifetime _lifetime;

    public InFlightRequests(NbdServerOptions options, PayloadMemory memory, ConnectionLifetime lifetime, PipelinedTransmission owner)
    {
        _maxRequests = options.MaxInFlightRequests;
        // It keeps as many as can be in flight, so a busy connection, once warm, never makes another.
        _pool = new DefaultObjectPool<RequestContext>(new RequestContextPolicy(owner), _maxRequests);
        _slots = new SemaphoreSlim(_maxRequests, _maxRequests);
        _maxCredits = (int)Math.Max(1, options.MaxInFlightBytes / CreditSize);
        _credits = new SemaphoreSlim(_maxCredits, _maxCredits);
        _memory = memory;
        _lifetime = lifetime;
    }

    /// <summary>No request is being read, run or answered.</summary>
    public bool IsEmpty => _slots.CurrentCount == _maxRequests;

    /// <summary>Waits for a free slot; false when the connection stopped meanwhile (nothing more is to start).</summary>
    // Pooled builders here and below: these run once per request and often wait, and an ordinary async
    // ValueTask method allocates its state machine whenever it has to wait.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> WaitForSlotAsync()
    {
        try
        {
            await _slots.WaitAsync(_lifetime.Stopped).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Waits until every request that took a slot has given it back.</summary>
    public async Task WaitUntilEmptyAsync()
    {
        for (var i = 0; i < _maxRequests; i++)
        {
            await _slots.WaitAsync().ConfigureAwait(false);
        }
    }

    public RequestContext Rent() => _pool.Get();

    /// <summary>
    /// Waits for the request's share of this connection's in-flight bytes, then of the server's memory; false
    /// when the wait was cancelled (the connection stopped), with whatever was taken recorded in the context
    /// so that returning it gives it all back.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ReserveAsync(RequestContext context, int payloadBytes)
    {
        if (payloadBytes == 0)
        {
            return true;
        }

        try
        {
            var credits = Math.Min(_maxCredits, (payloadBytes + CreditSize - 1) / CreditSize);
            while (context.Credits < credits)
            {
                await _credits.WaitAsync(_lifetime.Stopped).ConfigureAwait(false);
                context.Credits++;
            }

            var share = _memory.CostOf(payloadBytes);
            await _memory.AcquireAsync(share, _memoryWaiter, _lifetime.Stopped).ConfigureAwait(false);
            context.MemoryShare = share;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Gives back what a request holds, its slot last (safe from the sender and from the receive loop).</summary>
    public void Return(RequestContext context)
    {
        var credits = context.Credits;
        context.Reset(_memory);
        _pool.Return(context);
        if (credits > 0)
        {
            _credits.Release(credits);
        }

        // A reply is activity too: a request that ran longer than the idle timeout must not leave its
        // connection looking idle the moment its slot is free, before the reply has even been flushed.
        _lifetime.Touch();
        _slots.Release();
    }
}
