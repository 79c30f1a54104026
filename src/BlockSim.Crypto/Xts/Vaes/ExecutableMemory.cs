using System.Runtime.InteropServices;
using BlockSim.Crypto.Native;

namespace BlockSim.Crypto.Xts.Vaes;

/// <summary>
/// Pages for generated machine code: mapped writable (not executable) while the code is copied in, then
/// switched to executable (no longer writable), so no page is ever both. Never unmapped: the code lives as
/// long as the process, and holds no key material (keys are passed in by pointer at each call).
/// </summary>
internal static unsafe class ExecutableMemory
{
    /// <summary>Maps <paramref name="code"/> into fresh read-and-execute pages; returns its address.</summary>
    public static byte* Map(ReadOnlySpan<byte> code)
    {
        var size = (nuint)code.Length;
        var pages = Pages.MapReadWrite(size, "the VAES kernel");
        code.CopyTo(new Span<byte>(pages, code.Length));
        if (Pages.mprotect(pages, size, Pages.ProtRead | Pages.ProtExec) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Pages.munmap(pages, size);
            throw new InvalidOperationException($"mprotect to read+execute failed (errno {errno}); a policy forbidding executable mappings (W^X hardening) rules out the VAES tier.");
        }

        return (byte*)pages;
    }
}
