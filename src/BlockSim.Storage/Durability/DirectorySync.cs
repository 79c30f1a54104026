using System.Runtime.InteropServices;
using BlockSim.Storage.Native;

namespace BlockSim.Storage.Durability;

/// <summary>
/// fsync of a directory: what makes a rename, a new file or a deletion in it survive a crash (the file's own
/// fsync covers only its contents). .NET cannot open a directory for fsync, hence the libc calls. The one
/// copy of this for every project: volumes, snapshots, the key store, its key files and its audit log.
/// </summary>
public static class DirectorySync
{
    /// <summary>Makes every change to <paramref name="directory"/>'s entries so far durable; an <see cref="IOException"/> naming it if not.</summary>
    public static void Flush(string directory)
    {
        var fd = LibC.open(directory, LibC.ReadOnly | LibC.DirectoryOnly | LibC.CloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Cannot open directory {directory} to sync it: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
        }

        try
        {
            if (LibC.fsync(fd) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"fsync of directory {directory} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
            }
        }
        finally
        {
            LibC.close(fd);
        }
    }

    /// <summary><see cref="Flush"/> of the directory that holds <paramref name="path"/>: after creating, renaming or deleting it.</summary>
    public static void FlushParentOf(string path) => Flush(Path.GetDirectoryName(Path.GetFullPath(path))!);
}
