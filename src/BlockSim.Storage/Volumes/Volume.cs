using BlockSim.Storage.Native;
using BlockSim.Storage.Volumes.Media;

namespace BlockSim.Storage.Volumes;

/// <summary>
/// One encrypted volume: <see cref="VolumeHeader"/> (primary and backup) and a sparse data area whose
/// sectors are XTS-AES-256 ciphertext, on a medium (a file, or an image in a shared store, see
/// <see cref="VolumeLocation"/>). <see cref="Device"/> is the plaintext view. Opening never writes; a
/// damaged primary header is reported in <see cref="Warnings"/> and the backup used. The medium stays locked
/// (see <see cref="HeldVolume"/>) while it is open: exclusively when read-write, shared when read-only.
/// </summary>
public sealed class Volume : IDisposable
{
    private readonly HeldVolume _held;
    private readonly bool _ownsHeld;

    internal Volume(HeldVolume held, IBlockDevice device, bool ownsHeld = false)
    {
        _held = held;
        _ownsHeld = ownsHeld;
        Device = device;
    }

    /// <summary>Where it lives, as the user names it (a path, or <c>rbd:POOL/IMAGE</c>).</summary>
    public string Path => _held.Location;

    public VolumeHeader Header => _held.Header;

    /// <summary>The decrypted view of the data area.</summary>
    public IBlockDevice Device { get; }

    public IReadOnlyList<string> Warnings => _held.Warnings;

    /// <summary>Creates a new, empty (sparse) volume file; refuses to overwrite anything.</summary>
    public static void Create(string path, long capacity, IVolumeKeyProvider keys, string owner = "local", int sectorSize = 4096) =>
        Create(new FileVolumeLocation(path), capacity, keys, owner, sectorSize);

    /// <summary>Creates a new, empty (sparse) volume at <paramref name="location"/>; refuses to overwrite anything.</summary>
    public static void Create(VolumeLocation location, long capacity, IVolumeKeyProvider keys, string owner = "local", int sectorSize = 4096)
    {
        if (sectorSize is not (512 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(sectorSize), sectorSize, "The encryption sector size must be 512 or 4096.");
        }

        if (capacity <= 0 || capacity % sectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"The capacity must be a positive multiple of the {sectorSize}-byte sector size.");
        }

        var volumeId = Guid.NewGuid();
        var wrapped = keys.GenerateVolumeKey(volumeId, owner);
        var header = new VolumeHeader(volumeId, capacity, sectorSize, wrapped.KeyId, owner, wrapped.Blob).Serialize();
        var medium = location.Create(VolumeHeader.DataOffset + capacity);
        try
        {
            medium.Write(VolumeHeader.PrimaryOffset, header);
            medium.Write(VolumeHeader.BackupOffset, header);
            medium.Flush();
        }
        catch
        {
            location.Delete(medium); // a failed create leaves nothing half-made behind
            throw;
        }

        medium.Dispose();
    }

    /// <summary>Opens a volume file: validates the header, unwraps the key through <paramref name="keys"/>.</summary>
    /// <param name="underEncryption">
    /// Optionally wraps the ciphertext device before encryption is layered on, where a real disk's behaviour
    /// belongs (device simulation: a volatile cache then holds ciphertext, as a disk would).
    /// </param>
    public static Volume Open(string path, IVolumeKeyProvider keys, bool readOnly = false, Func<IBlockDevice, IBlockDevice>? underEncryption = null) =>
        Open(new FileVolumeLocation(path), keys, readOnly, underEncryption);

    /// <inheritdoc cref="Open(string, IVolumeKeyProvider, bool, Func{IBlockDevice, IBlockDevice}?)"/>
    public static Volume Open(VolumeLocation location, IVolumeKeyProvider keys, bool readOnly = false, Func<IBlockDevice, IBlockDevice>? underEncryption = null)
    {
        var held = HeldVolume.Open(location, readOnly);
        try
        {
            return held.Unlock(keys, underEncryption, ownsMedium: true);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Replaces the wrapped key in both header copies (after a master-key rotation, or to move the volume to
    /// another master key). The volume key itself does not change, so no data is re-encrypted. The volume
    /// must not be open elsewhere; the primary is written and synced before the backup, so a crash leaves one
    /// valid header either way.
    /// </summary>
    public static VolumeHeader Rewrap(string path, Func<VolumeHeader, WrappedVolumeKey> rewrap) => Rewrap(new FileVolumeLocation(path), rewrap);

    /// <inheritdoc cref="Rewrap(string, Func{VolumeHeader, WrappedVolumeKey})"/>
    public static VolumeHeader Rewrap(VolumeLocation location, Func<VolumeHeader, WrappedVolumeKey> rewrap)
    {
        using var medium = location.Open(readOnly: false);
        var (header, _) = HeldVolume.ReadHeader(medium);
        var wrapped = rewrap(header);
        var updated = header with { KeyId = wrapped.KeyId, WrappedKey = wrapped.Blob };
        WriteHeaders(medium, updated);
        return updated;
    }

    /// <summary>Primary first, synced, then the backup: a crash at any point leaves one valid copy.</summary>
    internal static void WriteHeaders(IVolumeMedium medium, VolumeHeader header)
    {
        var bytes = header.Serialize();
        medium.Write(VolumeHeader.PrimaryOffset, bytes);
        medium.Flush();
        medium.Write(VolumeHeader.BackupOffset, bytes);
        medium.Flush();
    }

    /// <summary>Deletes a volume file that no one has open (a serving daemon holds its lock: <see cref="VolumeInUseException"/>).</summary>
    public static void Delete(string path) => Delete(new FileVolumeLocation(path));

    /// <summary>Deletes a volume that no one has open (a serving daemon holds its lock: <see cref="VolumeInUseException"/>).</summary>
    public static void Delete(VolumeLocation location) => location.Delete(location.Open(readOnly: false));

    /// <summary>
    /// Reserves disk space for the whole data area (fallocate), so writes can never fail for lack of space;
    /// the reserved sectors still read as zeros. Reports the bytes done to <paramref name="progress"/>.
    /// </summary>
    public static void Preallocate(string path, IProgress<long>? progress = null)
    {
        const long Chunk = 256L << 20;
        using var handle = FileVolumeMedium.OpenLocked(path, readOnly: false);
        using var medium = new FileVolumeMedium(path, handle, readOnly: false, ownsHandle: false);
        var (header, _) = HeldVolume.ReadHeader(medium);
        for (long done = 0; done < header.Capacity;)
        {
            var length = Math.Min(Chunk, header.Capacity - done);
            if (LibC.fallocate(handle.DangerousGetHandle(), 0, VolumeHeader.DataOffset + done, length) != 0)
            {
                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                throw new VolumeException(errno == 28
                    ? $"{path}: not enough disk space to preallocate {header.Capacity} bytes (stopped at {done}); free some space or create the volume sparse."
                    : $"{path}: preallocation failed (errno {errno}); the file system may not support it. Create the volume sparse instead.");
            }

            done += length;
            progress?.Report(done);
        }

        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>
    /// Grows or shrinks a closed volume to <paramref name="capacity"/> bytes. Growing adds sparse sectors that
    /// read as zeros; shrinking discards everything past the new end. The order keeps every crash recoverable:
    /// the medium only ever holds at least what the header on it describes (grow: extend and sync, then write
    /// the headers; shrink: write the headers, then truncate), and Open accepts a longer one with a warning.
    /// </summary>
    public static VolumeHeader Resize(string path, long capacity) => Resize(new FileVolumeLocation(path), capacity);

    /// <inheritdoc cref="Resize(string, long)"/>
    public static VolumeHeader Resize(VolumeLocation location, long capacity)
    {
        using var medium = location.Open(readOnly: false);
        var (header, _) = HeldVolume.ReadHeader(medium);
        if (capacity <= 0 || capacity % header.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"The capacity must be a positive multiple of the volume's {header.SectorSize}-byte sector size.");
        }

        var resized = header with { Capacity = capacity };
        if (capacity >= header.Capacity)
        {
            medium.SetLength(VolumeHeader.DataOffset + capacity);
            medium.Flush();
            WriteHeaders(medium, resized);
        }
        else
        {
            WriteHeaders(medium, resized);
            medium.SetLength(VolumeHeader.DataOffset + capacity);
            medium.Flush();
        }

        return resized;
    }

    /// <summary>Reads the header without the key (for <c>volume info</c> and checks).</summary>
    public static (VolumeHeader Header, IReadOnlyList<string> Warnings) ReadHeader(string path) => ReadHeader(new FileVolumeLocation(path));

    /// <summary>Reads the header without the key and without the lock (a serving daemon's hold keeps it still).</summary>
    public static (VolumeHeader Header, IReadOnlyList<string> Warnings) ReadHeader(VolumeLocation location)
    {
        using var medium = location.OpenUnlocked();
        return HeldVolume.ReadHeader(medium);
    }

    public void Dispose()
    {
        Device.Dispose();
        if (_ownsHeld)
        {
            _held.Dispose();
        }
    }
}

/// <summary>A volume file is missing, damaged, of another format or locked; the message names the file.</summary>
public class VolumeException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Another process (a daemon serving the volume, or a command such as import) holds the volume's lock, so
/// its header cannot change and it cannot be opened for writing now.
/// </summary>
public sealed class VolumeInUseException : VolumeException
{
    public VolumeInUseException(string path, bool readOnly)
        : base($"{path} is in use: a running blocksim daemon serving it (or another blocksim command) holds its lock{(readOnly ? " for writing" : "")}, and a volume's header cannot change while it is held. Stop the daemon first (or let the command finish), then try again.")
    {
        FilePath = path;
        Holders = [];
    }

    /// <summary>For a medium whose lock names its holders (a shared store's exclusive lock): <paramref name="message"/> says who and what to do.</summary>
    public VolumeInUseException(string location, IReadOnlyList<string> holders, string message, Exception? inner = null)
        : base(message, inner)
    {
        FilePath = location;
        Holders = holders;
    }

    /// <summary>The volume's location (a path, or <c>rbd:POOL/IMAGE</c>).</summary>
    public string FilePath { get; }

    /// <summary>Who holds the lock, where the medium says (for a file, nobody is named: flock does not tell).</summary>
    public IReadOnlyList<string> Holders { get; }
}

/// <summary>The file is there and readable, but not a usable volume: no header, both copies damaged, truncated.</summary>
public sealed class VolumeDamagedException(string message, string problem) : VolumeException(message)
{
    /// <summary>What is wrong, without the file's name, e.g. "both volume headers are unusable (...)".</summary>
    public string Problem { get; } = problem;
}

/// <summary>The volume file can be read but not opened for writing (its mode, the immutable attribute, a read-only file system).</summary>
public sealed class VolumeNotWritableException(string message) : VolumeException(message);
