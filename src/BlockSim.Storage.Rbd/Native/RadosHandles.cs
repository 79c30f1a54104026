using System.Runtime.InteropServices;

namespace BlockSim.Storage.Rbd.Native;

/// <summary>A connected librados cluster handle; released with rados_shutdown once nothing opened from it is left.</summary>
internal sealed class RadosClusterHandle : SafeHandle
{
    public RadosClusterHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal void Set(nint value) => SetHandle(value);

    protected override bool ReleaseHandle()
    {
        Rados.rados_shutdown(handle);
        return true;
    }
}

/// <summary>
/// A handle that keeps its parent (the cluster for a pool, the pool for an image) alive until it is released
/// itself, so closing in any order never leaves librados with a dangling parent.
/// </summary>
internal abstract class ChildHandle : SafeHandle
{
    private SafeHandle? _parent;

    protected ChildHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>Takes a reference on the parent before the native call that makes this handle, so it cannot go first.</summary>
    internal void HoldParent(SafeHandle parent)
    {
        var added = false;
        parent.DangerousAddRef(ref added);
        _parent = parent;
    }

    /// <summary>Gives the parent's reference back when the native call that was to make this handle failed.</summary>
    internal void DropParent()
    {
        _parent?.DangerousRelease();
        _parent = null;
    }

    internal void Set(nint value) => SetHandle(value);

    protected abstract void Close(nint value);

    protected override bool ReleaseHandle()
    {
        Close(handle);
        _parent?.DangerousRelease();
        return true;
    }
}

/// <summary>A librados I/O context on one pool.</summary>
internal sealed class RadosIoContextHandle : ChildHandle
{
    protected override void Close(nint value) => Rados.rados_ioctx_destroy(value);
}

/// <summary>An open RBD image; rbd_close flushes and waits for the image's requests in flight.</summary>
internal sealed class RbdImageHandle : ChildHandle
{
    protected override void Close(nint value) => Librbd.rbd_close(value);
}
