using System.Runtime.InteropServices;
using System.Security.Cryptography;
using BlockSim.Crypto.Native;

namespace BlockSim.Crypto;

/// <summary>
/// Native memory for key material, on pages of its own (mmap, so nothing else shares them and the advice
/// below covers exactly the secrets): the GC never moves or copies it; the pages are left out of core dumps
/// (MADV_DONTDUMP) and, where RLIMIT_MEMLOCK allows, locked in RAM so they never reach swap (mlock); they
/// are zeroed before they are unlocked and unmapped (on Dispose, or by the finalizer if a caller forgot).
/// Page-aligned, so at least the 64-byte alignment the engines want.
/// </summary>
internal sealed unsafe class SecretMemory : IDisposable
{
    private readonly nuint _mapped;
    private byte* _pointer;

    public SecretMemory(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Length = length;
        var page = (nuint)Environment.SystemPageSize;
        _mapped = ((nuint)length + page - 1) / page * page;
        var pages = Pages.MapReadWrite(_mapped, "key material");

        // Not optional: a key that can end up in a core file is not kept at all.
        if (Pages.madvise(pages, _mapped, Pages.MadvDontDump) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Pages.munmap(pages, _mapped);
            throw new InvalidOperationException($"madvise(MADV_DONTDUMP) on key material failed (errno {errno}); refusing to hold keys that a core dump could contain.");
        }

        // Best effort: RLIMIT_MEMLOCK (often 64 KiB or 8 MiB for a user) may refuse, and then the keys may be
        // swapped out like any other memory, but they stay out of core dumps and are still zeroed at the end.
        IsLocked = Pages.mlock(pages, _mapped) == 0;
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
            Pages.munlock(p, _mapped);
        }

        Pages.munmap(p, _mapped);
    }

    // Never show key bytes, not even in a debugger's default view.
    public override string ToString() => $"SecretMemory({Length} bytes)";
}
