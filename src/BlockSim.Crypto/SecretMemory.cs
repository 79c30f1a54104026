using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace BlockSim.Crypto;

/// <summary>
/// Native memory for key material, on pages of its own (mmap, so nothing else shares them and the advice
/// below covers exactly the secrets): the GC never moves or copies it; the pages are left out of core dumps
/// (MADV_DONTDUMP) and, where RLIMIT_MEMLOCK allows, locked in RAM so they never reach swap (mlock); they
/// are zeroed before they are unlocked and unmapped (on Dispose, or by the finalizer if a caller forgot).
/// Page-aligned, so at least the 64-byte alignment the engines want.
/// </summary>
internal sealed unsafe partial class SecretMemory : IDisposable
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const int MadvDontDump = 16;

    private readonly nuint _mapped;
    private byte* _pointer;

    public SecretMemory(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Length = length;
        var page = (nuint)Environment.SystemPageSize;
        _mapped = ((nuint)length + page - 1) / page * page;
        var pages = mmap(null, _mapped, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (pages == (void*)-1)
        {
            throw new InvalidOperationException($"mmap of {_mapped} bytes for key material failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        // Not optional: a key that can end up in a core file is not kept at all.
        if (madvise(pages, _mapped, MadvDontDump) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            munmap(pages, _mapped);
            throw new InvalidOperationException($"madvise(MADV_DONTDUMP) on key material failed (errno {errno}); refusing to hold keys that a core dump could contain.");
        }

        // Best effort: RLIMIT_MEMLOCK (often 64 KiB or 8 MiB for a user) may refuse, and then the keys may be
        // swapped out like any other memory, but they stay out of core dumps and are still zeroed at the end.
        IsLocked = mlock(pages, _mapped) == 0;
        _pointer = (byte*)pages; // anonymous pages start zeroed
    }

    ~SecretMemory() => Free();

    public int Length { get; }

    /// <summary>True when the pages are locked in RAM (mlock succeeded).</summary>
    public bool IsLocked { get; }

    public bool IsDisposed => _pointer == null;

    public byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return _pointer;
        }
    }

    public Span<byte> Span => new(Pointer, Length);

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        var p = _pointer;
        if (p == null)
        {
            return;
        }

        _pointer = null;
        CryptographicOperations.ZeroMemory(new Span<byte>(p, (int)_mapped));
        if (IsLocked)
        {
            munlock(p, _mapped);
        }

        munmap(p, _mapped);
    }

    // Never show key bytes, not even in a debugger's default view.
    public override string ToString() => $"SecretMemory({Length} bytes)";

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* address, nuint length, int advice);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int mlock(void* address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munlock(void* address, nuint length);
}
