using System.Security.Cryptography;

namespace BlockSim.Storage.Volumes;

/// <summary>
/// A volume's XTS key, unwrapped for one attach and held only until it is disposed: pinned, so the GC never
/// moves it and leaves a copy behind, and zeroed on dispose. Proof that the key provider allowed the caller
/// (<see cref="HeldVolume.UnwrapKey"/>), and what <see cref="HeldVolume.Unlock(UnwrappedVolumeKey, Func{IBlockDevice, IBlockDevice}?)"/> opens the volume with.
/// </summary>
public sealed class UnwrappedVolumeKey : IDisposable
{
    private readonly byte[] _key = GC.AllocateArray<byte>(VolumeHeader.KeySize, pinned: true);
    private bool _disposed;

    internal UnwrappedVolumeKey(Guid volumeId) => VolumeId = volumeId;

    /// <summary>The volume it belongs to: a key is never used for another volume's file.</summary>
    internal Guid VolumeId { get; }

    internal Span<byte> Bytes
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _key;
        }
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_key);
        _disposed = true;
    }
}
