using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BlockSim.Storage.Rbd.Native;

namespace BlockSim.Storage.Rbd;

/// <summary>
/// An RBD image as a block device, through librbd's asynchronous calls (the pattern of qemu's block/rbd.c):
/// each request is one rbd_aio_* call whose completion signals a pooled <see cref="RbdOperation"/>. Opened
/// for writing, the device takes the image's exclusive lock explicitly and keeps it: without that, librbd
/// hands the lock between writers cooperatively and two hosts could both write. Breaking the lock
/// (<see cref="BreakLock"/>) blocklists the holder, whose next request then fails with a fenced error.
/// </summary>
public sealed partial class RbdBlockDevice : IBlockDevice
{
    private readonly RbdImageHandle _image;
    private readonly long _start;
    private readonly bool _ownsImage;
    private long _capacity;

    private RbdBlockDevice(RbdImageHandle image, string name, long capacity, bool readOnly, long start = 0, bool ownsImage = true)
    {
        _image = image;
        Name = name;
        _capacity = capacity;
        IsReadOnly = readOnly;
        _start = start;
        _ownsImage = ownsImage;
    }

    /// <summary>"pool/image", as the rbd tool names it.</summary>
    public string Name { get; }

    /// <summary>The image's size when opened (or last resized here); a read-only handle does not see resizes made elsewhere.</summary>
    public long Capacity => Volatile.Read(ref _capacity);

    public int SectorSize => 512;

    public bool IsReadOnly { get; }

    // Requests travel to the OSDs and complete on librbd's threads.
    public bool CompletesSynchronously => false;

    public BlockDeviceCapabilities Capabilities => BlockDeviceCapabilities.Trim | BlockDeviceCapabilities.FastZero;

    /// <summary>
    /// Opens an image. For writing, also acquires its exclusive lock, and throws
    /// <see cref="RbdLockHeldException"/> naming the holder when another client has it.
    /// </summary>
    public static RbdBlockDevice Open(RbdPool pool, string image, bool readOnly = false)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        var name = $"{pool.Name}/{image}";
        var handle = OpenHandle(pool, image, readOnly);
        try
        {
            if (!readOnly)
            {
                AcquireLock(handle, name);
            }

            return new RbdBlockDevice(handle, name, (long)GetSize(handle, name), readOnly);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A device over <paramref name="capacity"/> bytes of an image already open, from <paramref name="start"/>
    /// (a volume's data area); the image's owner closes it, after this device.
    /// </summary>
    internal static RbdBlockDevice Region(RbdImageHandle image, string name, long start, long capacity, bool readOnly) =>
        new(image, name, capacity, readOnly, start, ownsImage: false);

    /// <summary>Creates an image of <paramref name="size"/> bytes with 4 MiB objects (order 22) and the cluster's default features (which include exclusive-lock).</summary>
    public static void Create(RbdPool pool, string image, long size)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        var order = 22;
        var result = Librbd.rbd_create(pool.Handle.DangerousGetHandle(), image, (ulong)size, ref order);
        if (result < 0)
        {
            RbdErrors.Throw(result, $"Creating RBD image {pool.Name}/{image} of {size} bytes");
        }
    }

    /// <summary>Removes an image (and its data). Fails with EBUSY while a client has it open.</summary>
    public static void Remove(RbdPool pool, string image)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentException.ThrowIfNullOrWhiteSpace(image);
        var result = Librbd.rbd_remove(pool.Handle.DangerousGetHandle(), image);
        if (result < 0)
        {
            RbdErrors.Throw(result, $"Removing RBD image {pool.Name}/{image}");
        }
    }

    /// <summary>
    /// Breaks the image's exclusive lock, for a takeover: the cluster blocklists the holder, so a paused or
    /// partitioned host cannot write after the volume moved. Returns the owners broken (none when unlocked);
    /// then <see cref="Open"/> takes the lock.
    /// </summary>
    public static IReadOnlyList<string> BreakLock(RbdPool pool, string image)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var name = $"{pool.Name}/{image}";
        using var handle = OpenHandle(pool, image, readOnly: false);
        var owners = GetLockOwners(handle, name);
        foreach (var owner in owners)
        {
            var result = Librbd.rbd_lock_break(handle.DangerousGetHandle(), Librbd.LockModeExclusive, owner);
            if (result < 0 && result != -Errno.ENOENT)
            {
                RbdErrors.Throw(result, $"Breaking {owner}'s lock on RBD image {name}");
            }
        }

        return owners;
    }

    /// <summary>The clients holding the image's exclusive lock ("client.4123"), none when it is free.</summary>
    public IReadOnlyList<string> GetLockOwners() => GetLockOwners(_image, Name);

    /// <summary>Whether this handle still holds the exclusive lock (false once it was broken).</summary>
    public bool HoldsLock()
    {
        var result = Librbd.rbd_is_exclusive_lock_owner(_image.DangerousGetHandle(), out var owner);
        return result == 0 && owner != 0;
    }

    /// <summary>Grows (or shrinks) the image; shrinking discards the data beyond the new end.</summary>
    public void Resize(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ThrowIfReadOnly("resize");
        if (!_ownsImage)
        {
            throw new InvalidOperationException($"A region of RBD image {Name} cannot resize the image; its owner does.");
        }

        var result = Librbd.rbd_resize(_image.DangerousGetHandle(), (ulong)size);
        if (result < 0)
        {
            RbdErrors.Throw(result, $"Resizing RBD image {Name} to {size} bytes");
        }

        Volatile.Write(ref _capacity, (long)GetSize(_image, Name));
    }

    public unsafe ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, destination.Length);
        if (destination.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var image = Enter();
        try
        {
            var op = RbdOperation.Start("read", Name, offset, destination.Length, out var completion);
            var result = Librbd.rbd_aio_read(image, (ulong)(_start + offset), (nuint)destination.Length, op.Pin(destination), completion);
            return Submitted(op, result, completion);
        }
        finally
        {
            _image.DangerousRelease();
        }
    }

    public unsafe ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, source.Length);
        ThrowIfReadOnly("write");
        if (source.IsEmpty)
        {
            return fua ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var image = Enter();
        ValueTask write;
        try
        {
            var op = RbdOperation.Start("write", Name, offset, source.Length, out var completion);
            var result = Librbd.rbd_aio_write(image, (ulong)(_start + offset), (nuint)source.Length, op.Pin(source), completion);
            write = Submitted(op, result, completion);
        }
        finally
        {
            _image.DangerousRelease();
        }

        // librbd 1.16 has no FUA flag on writes that reaches the OSDs through its cache (rbd_aio_writev takes
        // no flags), so FUA is the write, then a flush.
        return fua ? ThenFlush(write, cancellationToken) : write;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        if (IsReadOnly)
        {
            return ValueTask.CompletedTask;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var image = Enter();
        try
        {
            var op = RbdOperation.Start("flush", Name, 0, 0, out var completion);
            return Submitted(op, Librbd.rbd_aio_flush(image, completion), completion);
        }
        finally
        {
            _image.DangerousRelease();
        }
    }

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, length);
        ThrowIfReadOnly("trim");
        if (length == 0)
        {
            return ValueTask.CompletedTask;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var image = Enter();
        try
        {
            var op = RbdOperation.Start("trim", Name, offset, length, out var completion);
            return Submitted(op, Librbd.rbd_aio_discard(image, (ulong)(_start + offset), (ulong)length, completion), completion);
        }
        finally
        {
            _image.DangerousRelease();
        }
    }

    public ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, length);
        ThrowIfReadOnly("write-zeroes");
        if (!mayDeallocate && fastOnly)
        {
            // Zeros that stay allocated are written out (thick provisioning): that is the slow work FAST_ZERO refuses.
            throw new NotSupportedException("An RBD image can keep a zeroed range allocated only by writing zeros to it.");
        }

        if (length == 0)
        {
            return ValueTask.CompletedTask;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var image = Enter();
        try
        {
            var op = RbdOperation.Start("write-zeroes", Name, offset, length, out var completion);
            var flags = mayDeallocate ? 0 : Librbd.WriteZeroesThickProvision;
            return Submitted(op, Librbd.rbd_aio_write_zeroes(image, (ulong)(_start + offset), (nuint)length, completion, flags, 0), completion);
        }
        finally
        {
            _image.DangerousRelease();
        }
    }

    /// <summary>Closes the image (unless it is a region's, which its owner closes): librbd flushes its cache, waits for requests in flight and gives the lock up.</summary>
    public void Dispose()
    {
        if (_ownsImage)
        {
            _image.Dispose();
        }
    }

    private static ValueTask Submitted(RbdOperation op, int result, nint completion) =>
        result < 0 ? ValueTask.FromException(op.Abandon(result, completion)) : new ValueTask(op, op.Version);

    // Pooled builder: a FUA write awaits twice, and a plain async method would allocate its state machine each time.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ThenFlush(ValueTask write, CancellationToken cancellationToken)
    {
        await write.ConfigureAwait(false);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Holds the image open across one native call (a concurrent Dispose waits for it), and returns the raw handle.</summary>
    private nint Enter()
    {
        var added = false;
        _image.DangerousAddRef(ref added);
        return _image.DangerousGetHandle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Capacity - length)
        {
            ThrowOutOfRange(offset, length);
        }
    }

    [DoesNotReturn]
    private void ThrowOutOfRange(long offset, long length) =>
        throw new ArgumentOutOfRangeException(nameof(offset), offset, $"A request of {length} bytes at {offset} is outside RBD image {Name} ({Capacity} bytes).");

    private void ThrowIfReadOnly(string operation)
    {
        if (IsReadOnly)
        {
            ThrowReadOnly(operation);
        }
    }

    [DoesNotReturn]
    private void ThrowReadOnly(string operation) =>
        throw new IOException($"Cannot {operation} RBD image {Name}: it was opened read-only.", Errno.EROFS);

    internal static RbdImageHandle OpenHandle(RbdPool pool, string image, bool readOnly)
    {
        var handle = new RbdImageHandle();
        handle.HoldParent(pool.Handle);
        var io = pool.Handle.DangerousGetHandle();
        var result = readOnly ? Librbd.rbd_open_read_only(io, image, out var raw, null) : Librbd.rbd_open(io, image, out raw, null);
        if (result < 0)
        {
            handle.DropParent();
            if (result == -Errno.ENOENT)
            {
                throw new RbdException($"There is no RBD image {image} in pool {pool.Name}.", Errno.ENOENT);
            }

            RbdErrors.Throw(result, $"Opening RBD image {pool.Name}/{image}{(readOnly ? " read-only" : "")}");
        }

        handle.Set(raw);
        return handle;
    }

    internal static ulong GetSize(RbdImageHandle handle, string name)
    {
        var result = Librbd.rbd_get_size(handle.DangerousGetHandle(), out var size);
        if (result < 0)
        {
            RbdErrors.Throw(result, $"Reading the size of RBD image {name}");
        }

        return size;
    }

    internal static void AcquireLock(RbdImageHandle handle, string name)
    {
        var result = Librbd.rbd_lock_acquire(handle.DangerousGetHandle(), Librbd.LockModeExclusive);
        switch (-result)
        {
            case 0:
                return;
            case Errno.EROFS or Errno.EBUSY or Errno.EAGAIN:
                throw new RbdLockHeldException(name, GetLockOwners(handle, name));
            case Errno.EINVAL or Errno.EOPNOTSUPP:
                throw new RbdException(
                    $"RBD image {name} has no exclusive-lock feature, so it cannot be kept to one writer. Enable it: rbd feature enable {name} exclusive-lock.",
                    -result);
            default:
                RbdErrors.Throw(result, $"Taking the exclusive lock of RBD image {name}");
                break;
        }
    }

    internal static unsafe IReadOnlyList<string> GetLockOwners(RbdImageHandle handle, string name)
    {
        var capacity = (nuint)4;
        while (true)
        {
            var owners = new nint[(int)capacity];
            var count = capacity;
            int result;
            fixed (nint* list = owners)
            {
                result = Librbd.rbd_lock_get_owners(handle.DangerousGetHandle(), out _, list, ref count);
                if (result == -Errno.ERANGE && count > capacity)
                {
                    capacity = count;
                    continue;
                }

                if (result == -Errno.ENOENT)
                {
                    return [];
                }

                if (result < 0)
                {
                    RbdErrors.Throw(result, $"Asking who holds the lock of RBD image {name}");
                }

                var names = new string[(int)count];
                for (var i = 0; i < names.Length; i++)
                {
                    names[i] = Marshal.PtrToStringUTF8(list[i]) ?? "";
                }

                Librbd.rbd_lock_get_owners_cleanup(list, count);
                return names;
            }
        }
    }
}
