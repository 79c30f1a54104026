using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using BlockSim.Storage.Rbd.Native;

namespace BlockSim.Storage.Rbd;

/// <summary>Turns librados/librbd's negative errno results into exceptions with messages that say what to do; cold code, out of the I/O paths.</summary>
internal static class RbdErrors
{
    /// <summary>Throws for a failed call that is not I/O on an image (connect, open, create, lock).</summary>
    [DoesNotReturn]
    public static void Throw(int result, string action) => throw Create(-result, action);

    public static RbdException Create(int errno, string action) => new($"{action} failed: {Detail(errno)}.", errno);

    private static string Detail(int errno) =>
        errno switch
        {
            Errno.ENOENT => "it does not exist",
            Errno.EEXIST => "it already exists",
            Errno.EPERM or Errno.EACCES => "permission denied (check the client name and its keyring/capabilities)",
            Errno.ETIMEDOUT => "the cluster did not answer in time (are the monitors and OSDs up and reachable?)",
            Errno.ENOTCONN or Errno.ECONNREFUSED => "the cluster cannot be reached (check mon host in the Ceph configuration)",
            Errno.ESHUTDOWN => "this client was fenced: the cluster blocklisted it because another client took the image's lock over",
            Errno.EROFS => "the image is read-only to this client: another client holds its exclusive lock, or this client lost it",
            Errno.ENOSPC or Errno.EDQUOT => "the pool is full (or over its quota)",
            _ => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})",
        };

    /// <summary>The exception for a failed request on an open image.</summary>
    public static Exception ForRequest(int errno, string operation, string image, long offset, long length)
    {
        var where = $"{operation} of {length} bytes at {offset} on RBD image {image}";
        return errno switch
        {
            Errno.ESHUTDOWN => new RbdException(
                $"{where} failed: this client was fenced (blocklisted) because another client broke its exclusive lock and took the volume over. " +
                "Nothing this handle writes is accepted any more; close it (the volume is served elsewhere now).", errno),
            Errno.EROFS => new RbdException(
                $"{where} was refused: this client does not hold the image's exclusive lock (another client holds it, or it was lost). " +
                "The volume must be written only where it is attached; close this handle.", errno),
            Errno.EINVAL => new RbdException($"{where} failed: librbd rejected the request as invalid (outside the image, or the image was shrunk).", errno),
            _ => new RbdException($"{where} failed: {Detail(errno)}.", errno),
        };
    }
}
