using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace BlockSim.Crypto;

/// <summary>
/// Native, 64-byte-aligned memory for key material: the GC never moves or copies it,
/// and it is zeroed before it is freed (on Dispose, or by the finalizer if a caller forgot).
/// </summary>
internal sealed unsafe class SecretMemory : IDisposable
{
    private byte* _pointer;

    public SecretMemory(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Length = length;
        _pointer = (byte*)NativeMemory.AlignedAlloc((nuint)length, 64);
        NativeMemory.Clear(_pointer, (nuint)length);
    }

    ~SecretMemory() => Free();

    public int Length { get; }

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
        CryptographicOperations.ZeroMemory(new Span<byte>(p, Length));
        NativeMemory.AlignedFree(p);
    }

    // Never show key bytes, not even in a debugger's default view.
    public override string ToString() => $"SecretMemory({Length} bytes)";
}
