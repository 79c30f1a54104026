namespace BlockSim.Storage.Rbd.Native;

/// <summary>The Linux errno values librados and librbd return (negated) that the device tells apart.</summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EIO = 5;
    public const int EAGAIN = 11;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int ERANGE = 34;
    public const int EOPNOTSUPP = 95;
    public const int ENOTCONN = 107;

    /// <summary>Also Ceph's EBLOCKLISTED (include/compat.h defines it as ESHUTDOWN): this client was fenced.</summary>
    public const int ESHUTDOWN = 108;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EDQUOT = 122;
    public const int ECANCELED = 125;
}
