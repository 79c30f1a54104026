namespace BlockSim.Storage.Volumes;

/// <summary>A volume key as the header keeps it: wrapped under a master key named by <see cref="KeyId"/>.</summary>
public sealed record WrappedVolumeKey(string KeyId, byte[] Blob);

/// <summary>
/// Where volume keys come from (envelope encryption). The volume never sees a master key: it asks for a
/// new wrapped 64-byte XTS key at creation, and for the unwrapped key when it is opened.
/// </summary>
public interface IVolumeKeyProvider
{
    /// <summary>A fresh random 64-byte XTS key (halves differ), returned only wrapped.</summary>
    WrappedVolumeKey GenerateVolumeKey(Guid volumeId, string owner);

    /// <summary>Unwraps the volume's key into <paramref name="key"/> (64 bytes); the caller zeroes it after use.</summary>
    void UnwrapVolumeKey(Guid volumeId, string owner, WrappedVolumeKey wrapped, Span<byte> key);
}

/// <summary>The key provider refused or failed (wrong key, disabled key, policy); the message says which, never a secret.</summary>
public sealed class VolumeKeyException(string message, Exception? inner = null) : Exception(message, inner);
