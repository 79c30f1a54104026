namespace BlockSim.Storage.Rbd;

/// <summary>
/// A librados or librbd call failed. <see cref="Exception.HResult"/> is the errno (positive), as .NET's own
/// file errors carry it, so callers can tell ENOSPC from EIO; <see cref="IsFenced"/> and
/// <see cref="IsLockLost"/> sort out the two that mean "another host owns this volume now".
/// </summary>
public class RbdException : IOException
{
    public RbdException(string message, int errno)
        : base(message, errno)
    {
    }

    public RbdException(string message, int errno, Exception inner)
        : base(message, inner)
    {
        HResult = errno;
    }

    public int Errno => HResult;

    /// <summary>The cluster blocklisted this client (its lock was broken by another): nothing it sends is accepted any more.</summary>
    public bool IsFenced => Errno == Native.Errno.ESHUTDOWN;

    /// <summary>A write was refused because this client does not hold the image's exclusive lock.</summary>
    public bool IsLockLost => Errno == Native.Errno.EROFS;
}

/// <summary>Opening an image for writing found its exclusive lock held by another client, named in <see cref="Owners"/>.</summary>
public sealed class RbdLockHeldException : RbdException
{
    public RbdLockHeldException(string image, IReadOnlyList<string> owners)
        : base(
            $"RBD image {image} is in use: its exclusive lock is held by {(owners.Count == 0 ? "another client (which did not say its name)" : string.Join(", ", owners))}. " +
            "Detach it there first, or take it over (breaking the lock fences the holder, so its writes stop).",
            Native.Errno.EBUSY)
    {
        Image = image;
        Owners = owners;
    }

    public string Image { get; }

    public IReadOnlyList<string> Owners { get; }
}
