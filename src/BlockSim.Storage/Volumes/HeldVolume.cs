using BlockSim.Crypto;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Volumes.Media;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Storage.Volumes;

/// <summary>
/// A volume held open and locked for as long as this object lives, its header read and checked against the
/// medium's length, its key not yet needed: what a daemon holds for every volume it serves, from start-up
/// to shutdown. Read-write holds the medium's exclusive lock, so no other process (or, for a shared store,
/// host) can open the volume for writing, resize it, re-wrap or delete it, and the <see cref="Header"/>
/// read here stays the truth; read-only takes a shared lock where the medium has one.
/// </summary>
public sealed class HeldVolume : IDisposable
{
    private readonly IVolumeMedium _medium;
    private bool _unlocked;
    private bool _disposed;

    private HeldVolume(IVolumeMedium medium, VolumeHeader header, IReadOnlyList<string> warnings)
    {
        _medium = medium;
        Header = header;
        Warnings = warnings;
    }

    /// <summary>Where it lives, as the user names it (a path, or <c>rbd:POOL/IMAGE</c>).</summary>
    public string Location => _medium.Location;

    public VolumeHeader Header { get; }

    public IReadOnlyList<string> Warnings { get; }

    public bool IsReadOnly => _medium.IsReadOnly;

    /// <inheritdoc cref="IVolumeMedium.LockLost"/>
    public string? LockLost => _medium.LockLost;

    /// <summary>The open medium, for whole-volume work (a snapshot's copy) that must happen under this lock.</summary>
    internal IVolumeMedium Medium => _medium;

    /// <summary>The open file of a volume file (snapshots copy it whole); other media have none.</summary>
    internal SafeFileHandle FileHandle => (_medium as FileVolumeMedium)?.Handle
        ?? throw new NotSupportedException($"{Location} is not a volume file: snapshots of it are the store's own (for RBD, rbd snap).");

    /// <summary>Opens and locks a volume file and validates its header; no key is needed yet.</summary>
    /// <exception cref="VolumeInUseException">Another process (or another open in this one) holds the lock.</exception>
    /// <exception cref="VolumeNotWritableException">The file can be read but not opened for writing.</exception>
    /// <exception cref="VolumeException">Missing, damaged, truncated or of another format.</exception>
    public static HeldVolume Open(string path, bool readOnly = false) => Open(new FileVolumeLocation(path), readOnly);

    /// <inheritdoc cref="Open(string, bool)"/>
    public static HeldVolume Open(VolumeLocation location, bool readOnly = false)
    {
        var medium = location.Open(readOnly);
        try
        {
            var (header, warnings) = ReadHeader(medium);
            var expected = VolumeHeader.DataOffset + header.Capacity;
            var length = medium.Length;
            if (length < expected)
            {
                throw new VolumeDamagedException(
                    $"{medium.Location}: the {medium.Noun} is {length} bytes but its header describes {expected} ({header.Capacity} bytes of data after the 1 MiB header area); it was truncated outside blocksim.",
                    $"the {medium.Noun} is {length} bytes, shorter than the {expected} its header describes (truncated outside blocksim)");
            }

            if (length > expected)
            {
                // Only an interrupted resize leaves this (see Volume.Resize); the header is the truth, the tail unused.
                warnings = [.. warnings, $"{medium.Location}: the {medium.Noun} is {length - expected} bytes longer than its header describes (an interrupted resize?); the extra bytes are ignored. Run 'blocksim volume resize' again to finish it."];
            }

            return new HeldVolume(medium, header, warnings);
        }
        catch
        {
            medium.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Unwraps the key through <paramref name="keys"/> and returns the decrypted view of the data area, over
    /// this medium; this object keeps owning (and locking) it and must outlive the volume. Once only: a
    /// second volume over the same medium would have a cache of its own.
    /// </summary>
    /// <param name="underEncryption">
    /// Optionally wraps the ciphertext device before encryption is layered on, where a real disk's behaviour
    /// belongs (device simulation: a volatile cache then holds ciphertext, as a disk would).
    /// </param>
    public Volume Unlock(IVolumeKeyProvider keys, Func<IBlockDevice, IBlockDevice>? underEncryption = null) => Unlock(keys, underEncryption, ownsMedium: false);

    /// <summary>Closes the medium, which releases the lock.</summary>
    public void Dispose()
    {
        _disposed = true;
        _medium.Dispose();
    }

    /// <inheritdoc cref="Unlock(IVolumeKeyProvider, Func{IBlockDevice, IBlockDevice}?)"/>
    /// <param name="ownsMedium">The volume closes this medium when it is disposed (<see cref="Volume.Open(VolumeLocation, IVolumeKeyProvider, bool, Func{IBlockDevice, IBlockDevice}?)"/>).</param>
    internal Volume Unlock(IVolumeKeyProvider keys, Func<IBlockDevice, IBlockDevice>? underEncryption, bool ownsMedium)
    {
        using var key = UnwrapKey(keys);
        return Unlock(key, underEncryption, ownsMedium);
    }

    /// <summary>
    /// Asks <paramref name="keys"/> for this volume's key (a key store decides for its caller, and audits
    /// the request): every attach, first or not, goes through here. Dispose the key to zero it.
    /// </summary>
    /// <exception cref="VolumeKeyException">The provider refused or failed.</exception>
    public UnwrappedVolumeKey UnwrapKey(IVolumeKeyProvider keys)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var key = new UnwrappedVolumeKey(Header.VolumeId);
        try
        {
            keys.UnwrapVolumeKey(Header.VolumeId, Header.Owner, new WrappedVolumeKey(Header.KeyId, Header.WrappedKey), key.Bytes);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The decrypted view of the data area with a key <see cref="UnwrapKey"/> gave (the caller still
    /// disposes it); as <see cref="Unlock(IVolumeKeyProvider, Func{IBlockDevice, IBlockDevice}?)"/>, once only.
    /// </summary>
    public Volume Unlock(UnwrappedVolumeKey key, Func<IBlockDevice, IBlockDevice>? underEncryption = null) => Unlock(key, underEncryption, ownsMedium: false);

    private Volume Unlock(UnwrappedVolumeKey key, Func<IBlockDevice, IBlockDevice>? underEncryption, bool ownsMedium)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_unlocked)
        {
            throw new InvalidOperationException($"{Location} is already unlocked.");
        }

        if (key.VolumeId != Header.VolumeId)
        {
            throw new ArgumentException($"The key given is for volume {key.VolumeId}, not {Header.VolumeId}.", nameof(key));
        }

        var xts = new XtsAes256(key.Bytes);
        var data = _medium.OpenRegion(VolumeHeader.DataOffset, Header.Capacity);
        data = underEncryption?.Invoke(data) ?? data;
        _unlocked = true;
        return new Volume(this, new EncryptedBlockDevice(data, xts, Header.SectorSize), ownsMedium);
    }

    /// <summary>Reads the primary header, or the backup (with a warning) where the primary is unusable.</summary>
    internal static (VolumeHeader, IReadOnlyList<string>) ReadHeader(IVolumeMedium medium)
    {
        var primary = ReadCopy(medium, VolumeHeader.PrimaryOffset);
        var header = VolumeHeader.TryParse(primary, out var primaryProblem);
        if (header is not null)
        {
            return (header, []);
        }

        var backup = ReadCopy(medium, VolumeHeader.BackupOffset);
        header = VolumeHeader.TryParse(backup, out var backupProblem);
        if (header is not null)
        {
            return (header, [$"{medium.Location}: the primary header is unusable ({primaryProblem}); using the backup copy."]);
        }

        if (primaryProblem == "no BlockSim volume magic" && backupProblem == "no BlockSim volume magic")
        {
            throw new VolumeDamagedException($"{medium.Location} is not a BlockSim volume (no volume header found).", "not a BlockSim volume (no volume header found)");
        }

        var problem = $"both volume headers are unusable (primary: {primaryProblem}; backup: {backupProblem})";
        throw new VolumeDamagedException($"{medium.Location}: {problem}. The data cannot be located safely.", problem);
    }

    private static byte[] ReadCopy(IVolumeMedium medium, long offset)
    {
        var bytes = new byte[VolumeHeader.Size];
        medium.Read(offset, bytes);
        return bytes;
    }
}
