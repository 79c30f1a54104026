using System.Runtime.InteropServices;

namespace BlockSim.Crypto.Xts.Vaes;

/// <summary>
/// Pages for generated machine code: mapped writable (not executable) while the code is copied in, then
/// switched to executable (no longer writable), so no page is ever both. Never unmapped: the code lives as
/// long as the process, and holds no key material (keys are passed in by pointer at each call).
/// </summary>
internal static unsafe partial class ExecutableMemory
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int ProtExec = 4;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;

    /// <summary>Maps <paramref name="code"/> into fresh read-and-execute pages; returns its address.</summary>
    public static byte* Map(ReadOnlySpan<byte> code)
    {
        var size = (nuint)code.Length;
        var pages = mmap(null, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (pages == (void*)-1)
        {
            throw new InvalidOperationException($"mmap of {size} bytes for the VAES kernel failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        code.CopyTo(new Span<byte>(pages, code.Length));
        if (mprotect(pages, size, ProtRead | ProtExec) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            munmap(pages, size);
            throw new InvalidOperationException($"mprotect to read+execute failed (errno {errno}); a policy forbidding executable mappings (W^X hardening) rules out the VAES tier.");
        }

        return (byte*)pages;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int mprotect(void* address, nuint length, int protection);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* address, nuint length);
}
