using System.Runtime.InteropServices;

namespace BlockSim.Daemon.Admin;

/// <summary>
/// The system's account database (getpwuid_r, getgrnam_r: /etc/passwd and /etc/group, or whatever NSS
/// serves), for naming the user behind a uid and finding the admin socket's group.
/// </summary>
internal static partial class LocalAccounts
{
    private const int BufferBytes = 64 * 1024;
    private const int PasswdBytes = 48; // struct passwd on LP64: five pointers, uid, gid, two pointers
    private const int GroupBytes = 32;  // struct group on LP64: name, passwd, gid (padded), members
    private const int GroupIdOffset = 16;

    /// <summary>The login name of <paramref name="uid"/>; null when the database has no entry.</summary>
    public static string? UserName(uint uid) =>
        Lookup(PasswdBytes, (entry, buffer, length) => (getpwuid_r(uid, entry, buffer, length, out var result), result), entry => Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(entry)));

    /// <summary>The id of the group named <paramref name="name"/>; null when there is none.</summary>
    public static uint? GroupId(string name) =>
        Lookup(GroupBytes, (entry, buffer, length) => (getgrnam_r(name, entry, buffer, length, out var result), result), entry => (uint?)(uint)Marshal.ReadInt32(entry, GroupIdOffset));

    /// <summary>Changes the group of <paramref name="path"/> (not following a link); throws naming the path.</summary>
    public static void ChangeGroup(string path, uint gid)
    {
        if (lchown(path, uint.MaxValue, gid) != 0)
        {
            throw new IOException($"Cannot give {path} the group {gid}: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    private static T? Lookup<T>(int entryBytes, Func<nint, nint, nuint, (int Error, nint Result)> call, Func<nint, T?> read)
    {
        var entry = Marshal.AllocHGlobal(entryBytes);
        var buffer = Marshal.AllocHGlobal(BufferBytes);
        try
        {
            var (error, result) = call(entry, buffer, BufferBytes);
            return error == 0 && result != 0 ? read(entry) : default;
        }
        finally
        {
            Marshal.FreeHGlobal(buffer);
            Marshal.FreeHGlobal(entry);
        }
    }

    [LibraryImport("libc")]
    private static partial int getpwuid_r(uint uid, nint entry, nint buffer, nuint length, out nint result);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int getgrnam_r(string name, nint entry, nint buffer, nuint length, out nint result);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint uid, uint gid);
}
