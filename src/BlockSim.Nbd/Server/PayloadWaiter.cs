using System.Threading.Tasks.Sources;

namespace BlockSim.Nbd.Server;

/// <summary>
/// One receive loop's place in the <see cref="PayloadMemory"/> queue. A connection owns one and reuses it
/// for every wait (it waits for one request's share at a time), so waiting allocates nothing.
/// </summary>
internal sealed class PayloadWaiter : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private PayloadMemory? _memory;
    private CancellationTokenRegistration _cancellation;

    internal PayloadWaiter? Next;
    internal PayloadWaiter? Previous;

    internal long Bytes { get; private set; }

    internal void Prepare(PayloadMemory memory, long bytes)
    {
        _core.Reset();
        _memory = memory;
        Bytes = bytes;
    }

    internal ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((PayloadWaiter)state!).Cancel(token), this);
        }

        return new ValueTask(this, _core.Version);
    }

    /// <summary>Called under the memory's lock once the share is the waiter's.</summary>
    internal void Granted() => _core.SetResult(true);

    private void Cancel(CancellationToken token)
    {
        if (_memory!.TryWithdraw(this))
        {
            _core.SetException(new OperationCanceledException(token));
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        // Unregistering waits for a cancellation callback already running, so it cannot complete the next wait.
        _cancellation.Dispose();
        _cancellation = default;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
