using System.Runtime.InteropServices;

namespace BlockSim.Crypto.Native;

/// <summary>
/// The libc calls behind the pages this layer owns outright (key material, generated code): anonymous
/// private mappings, and the protection changes and advice applied to them.
/// </summary>
internal static unsafe partial class Pages
{
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int ProtExec = 4;
    public const int MadvDontDump = 16;

    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;

    /// <summary>Fresh zeroed read-write pages of <paramref name="length"/> bytes; throws naming <paramref name="purpose"/>.</summary>
    public static void* MapReadWrite(nuint length, string purpose)
    {
        var pages = mmap(null, length, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (pages == (void*)-1)
        {
            throw new InvalidOperationException($"mmap of {length} bytes for {purpose} failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        return pages;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int mprotect(void* address, nuint length, int protection);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int madvise(void* address, nuint length, int advice);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int mlock(void* address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munlock(void* address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);
}
