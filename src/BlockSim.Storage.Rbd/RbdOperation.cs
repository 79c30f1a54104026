using System.Buffers;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using BlockSim.Storage.Rbd.Native;

namespace BlockSim.Storage.Rbd;

/// <summary>
/// One asynchronous librbd request: the source behind the <see cref="ValueTask"/> a device method returns,
/// pooled so that a request allocates nothing managed in steady state. librbd calls <see cref="OnComplete"/>
/// on one of its own threads; that only records the result and signals, and the awaiting code continues on
/// the thread pool (RunContinuationsAsynchronously), never on librbd's thread.
/// </summary>
internal sealed unsafe class RbdOperation : IValueTaskSource
{
    private static readonly OperationPool s_pool = new();

    private readonly GCHandle _self;
    private ManualResetValueTaskSourceCore<long> _core = new() { RunContinuationsAsynchronously = true };
    private MemoryHandle _pin;
    private string _operation = "";
    private string _image = "";
    private long _offset;
    private long _length;

    private RbdOperation()
    {
        // A normal (not pinned) handle: librbd only carries it as the callback's argument, and the object
        // lives as long as the pool, so the handle is never freed.
        _self = GCHandle.Alloc(this);
    }

    public short Version => _core.Version;

    /// <summary>Takes an operation from the pool and makes its librbd completion; <paramref name="operation"/> and the rest only name it in errors.</summary>
    public static RbdOperation Start(string operation, string image, long offset, long length, out nint completion)
    {
        var op = s_pool.Rent() ?? new RbdOperation();
        op._operation = operation;
        op._image = image;
        op._offset = offset;
        op._length = length;
        var result = Librbd.rbd_aio_create_completion(GCHandle.ToIntPtr(op._self), &OnComplete, out completion);
        if (result < 0)
        {
            op.Recycle();
            throw RbdErrors.ForRequest(-result, operation, image, offset, length);
        }

        return op;
    }

    /// <summary>Keeps <paramref name="memory"/> where it is until librbd is done with it; unpinned in the callback.</summary>
    public byte* Pin(ReadOnlyMemory<byte> memory)
    {
        _pin = memory.Pin();
        return (byte*)_pin.Pointer;
    }

    /// <summary>
    /// The submitting call itself failed, so librbd will not call back: release the completion, then throw.
    /// The operation is not pooled again, in case librbd did keep the completion after all; losing one
    /// object on a rare path is cheaper than a late callback landing in a reused one.
    /// </summary>
    public Exception Abandon(int result, nint completion)
    {
        Librbd.rbd_aio_release(completion);
        _pin.Dispose();
        _pin = default;
        return RbdErrors.ForRequest(-result, _operation, _image, _offset, _length);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void GetResult(short token)
    {
        // Called once per ValueTask (awaited once, as ValueTask demands), so the operation can go back to the pool here.
        var result = _core.GetResult(token);
        if (result < 0)
        {
            var error = RbdErrors.ForRequest((int)-result, _operation, _image, _offset, _length);
            Recycle();
            throw error;
        }

        Recycle();
    }

    [UnmanagedCallersOnly]
    private static void OnComplete(nint completion, nint argument)
    {
        // On librbd's thread: no exception may escape into native code, and nothing here may block.
        try
        {
            var result = (long)Librbd.rbd_aio_get_return_value(completion);
            Librbd.rbd_aio_release(completion);
            if (GCHandle.FromIntPtr(argument).Target is RbdOperation op)
            {
                op._pin.Dispose();
                op._pin = default;
                op._core.SetResult(result);
            }
        }
        catch (Exception e)
        {
            // Only a defect gets here (a completion delivered twice). Going on could let librbd write into a
            // buffer given back to its owner, so stop the process with the reason rather than corrupt data.
            Environment.FailFast("An RBD completion could not be delivered.", e);
        }
    }

    private void Recycle()
    {
        _core.Reset();
        _operation = "";
        _image = "";
        s_pool.Return(this);
    }

    /// <summary>A small lock-free pool (slots taken and given back with Interlocked); beyond its size, operations are left to the GC.</summary>
    private sealed class OperationPool
    {
        private readonly RbdOperation?[] _slots = new RbdOperation?[256];

        public RbdOperation? Rent()
        {
            var slots = _slots;
            for (var i = 0; i < slots.Length; i++)
            {
                var item = Volatile.Read(ref slots[i]);
                if (item is not null && Interlocked.CompareExchange(ref slots[i], null, item) == item)
                {
                    return item;
                }
            }

            return null;
        }

        public void Return(RbdOperation op)
        {
            var slots = _slots;
            for (var i = 0; i < slots.Length; i++)
            {
                if (Volatile.Read(ref slots[i]) is null && Interlocked.CompareExchange(ref slots[i], op, null) is null)
                {
                    return;
                }
            }

            // The pool is full: let this one go. Its GCHandle keeps it alive, so free it first.
            op._self.Free();
        }
    }
}
