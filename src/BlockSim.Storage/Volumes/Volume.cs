using BlockSim.Storage.Durability;
using BlockSim.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Storage.Volumes;

/// <summary>
/// One encrypted volume file: <see cref="VolumeHeader"/> (primary and backup) and a sparse data area whose
/// sectors are XTS-AES-256 ciphertext. <see cref="Device"/> is the plaintext view. Opening never writes; a
/// damaged primary header is reported in <see cref="Warnings"/> and the backup used. The file stays locked
/// (see <see cref="VolumeFile"/>) while it is open: exclusively when read-write, shared when read-only.
/// </summary>
public sealed class Volume : IDisposable
{
    private readonly VolumeFile _file;
    private readonly bool _ownsFile;

    internal Volume(VolumeFile file, IBlockDevice device, bool ownsFile = false)
    {
        _file = file;
        _ownsFile = ownsFile;
        Device = device;
    }

    public string Path => _file.Path;

    public VolumeHeader Header => _file.Header;

    /// <summary>The decrypted view of the data area.</summary>
    public IBlockDevice Device { get; }

    public IReadOnlyList<string> Warnings => _file.Warnings;

    /// <summary>Creates a new, empty (sparse) volume file; refuses to overwrite anything.</summary>
    public static void Create(string path, long capacity, IVolumeKeyProvider keys, string owner = "local", int sectorSize = 4096)
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
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        var made = false;
        try
        {
            using var file = new FileStream(path, options);
            made = true; // CreateNew: the file is ours, so a failure may delete it
            RandomAccess.Write(file.SafeFileHandle, header, VolumeHeader.PrimaryOffset);
            RandomAccess.Write(file.SafeFileHandle, header, VolumeHeader.BackupOffset);
            SetLength(path, file.SafeFileHandle, capacity);
            RandomAccess.FlushToDisk(file.SafeFileHandle);
        }
        catch when (made)
        {
            File.Delete(path); // a failed create leaves nothing half-made behind
            throw;
        }

        DirectorySync.FlushParentOf(path);
    }

    /// <summary>Opens a volume: validates the header, unwraps the key through <paramref name="keys"/>.</summary>
    /// <param name="underEncryption">
    /// Optionally wraps the ciphertext device before encryption is layered on, where a real disk's behaviour
    /// belongs (device simulation: a volatile cache then holds ciphertext, as a disk would).
    /// </param>
    public static Volume Open(string path, IVolumeKeyProvider keys, bool readOnly = false, Func<IBlockDevice, IBlockDevice>? underEncryption = null)
    {
        var file = VolumeFile.Open(path, readOnly);
        try
        {
            return file.Unlock(keys, underEncryption, ownsFile: true);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Replaces the wrapped key in both header copies (after a master-key rotation, or to move the volume to
    /// another master key). The volume key itself does not change, so no data is re-encrypted. The volume
    /// must not be open elsewhere; the primary is written and synced before the backup, so a crash leaves one
    /// valid header either way.
    /// </summary>
    public static VolumeHeader Rewrap(string path, Func<VolumeHeader, WrappedVolumeKey> rewrap)
    {
        using var handle = VolumeFile.OpenLocked(path, readOnly: false);
        var (header, _) = VolumeFile.ReadHeader(path, handle);
        var wrapped = rewrap(header);
        var updated = header with { KeyId = wrapped.KeyId, WrappedKey = wrapped.Blob };
        WriteHeaders(handle, updated);
        return updated;
    }

    /// <summary>Primary first, synced, then the backup: a crash at any point leaves one valid copy.</summary>
    internal static void WriteHeaders(SafeFileHandle handle, VolumeHeader header)
    {
        var bytes = header.Serialize();
        RandomAccess.Write(handle, bytes, VolumeHeader.PrimaryOffset);
        RandomAccess.FlushToDisk(handle);
        RandomAccess.Write(handle, bytes, VolumeHeader.BackupOffset);
        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>Deletes a volume file that no one has open (a serving daemon holds its lock: <see cref="VolumeInUseException"/>).</summary>
    public static void Delete(string path)
    {
        using (VolumeFile.OpenLocked(path, readOnly: false))
        {
            File.Delete(path);
        }

        DirectorySync.FlushParentOf(path);
    }

    /// <summary>
    /// Reserves disk space for the whole data area (fallocate), so writes can never fail for lack of space;
    /// the reserved sectors still read as zeros. Reports the bytes done to <paramref name="progress"/>.
    /// </summary>
    public static void Preallocate(string path, IProgress<long>? progress = null)
    {
        const long Chunk = 256L << 20;
        using var handle = VolumeFile.OpenLocked(path, readOnly: false);
        var (header, _) = VolumeFile.ReadHeader(path, handle);
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
    /// the file only ever holds at least what the header on disk describes (grow: extend and sync, then write
    /// the headers; shrink: write the headers, then truncate), and Open accepts a longer file with a warning.
    /// </summary>
    public static VolumeHeader Resize(string path, long capacity)
    {
        using var handle = VolumeFile.OpenLocked(path, readOnly: false);
        var (header, _) = VolumeFile.ReadHeader(path, handle);
        if (capacity <= 0 || capacity % header.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"The capacity must be a positive multiple of the volume's {header.SectorSize}-byte sector size.");
        }

        var resized = header with { Capacity = capacity };
        if (capacity >= header.Capacity)
        {
            SetLength(path, handle, capacity);
            RandomAccess.FlushToDisk(handle);
            WriteHeaders(handle, resized);
        }
        else
        {
            WriteHeaders(handle, resized);
            RandomAccess.SetLength(handle, VolumeHeader.DataOffset + capacity);
            RandomAccess.FlushToDisk(handle);
        }

        return resized;
    }

    /// <summary>Sizes the file for <paramref name="capacity"/> bytes of data; a size the file system cannot hold is a <see cref="VolumeException"/> that says so.</summary>
    private static void SetLength(string path, SafeFileHandle handle, long capacity)
    {
        try
        {
            RandomAccess.SetLength(handle, VolumeHeader.DataOffset + capacity);
        }
        catch (ArgumentOutOfRangeException e)
        {
            // .NET reports EFBIG this way ("Specified file length was too large for the file system").
            throw new VolumeException($"{path}: the file system cannot hold a volume of {capacity} bytes ({ByteSize.Format(capacity)}); give a smaller size.", e);
        }
    }

    /// <summary>Reads the header without the key (for <c>volume info</c> and checks).</summary>
    public static (VolumeHeader Header, IReadOnlyList<string> Warnings) ReadHeader(string path)
    {
        // Opened without the lock, which a daemon serving the volume holds: reading the header is safe then
        // (it only changes under the exclusive lock, which that daemon's hold rules out).
        var fd = LibC.open(path, LibC.ReadOnly | LibC.CloseOnExec);
        if (fd < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw errno == LibC.ENOENT
                ? new VolumeException($"{path}: no such volume file.")
                : new VolumeException($"{path}: cannot open (errno {errno}).");
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        return VolumeFile.ReadHeader(path, handle);
    }

    public void Dispose()
    {
        Device.Dispose();
        if (_ownsFile)
        {
            _file.Dispose();
        }
    }
}

/// <summary>A volume file is missing, damaged, of another format or locked; the message names the file.</summary>
public class VolumeException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Another process (a daemon serving the volume, or a command such as import) holds the volume's lock, so
/// its header cannot change and it cannot be opened for writing now.
/// </summary>
public sealed class VolumeInUseException(string path, bool readOnly) : VolumeException(
    $"{path} is in use: a running blocksim daemon serving it (or another blocksim command) holds its lock{(readOnly ? " for writing" : "")}, and a volume's header cannot change while it is held. Stop the daemon first (or let the command finish), then try again.")
{
    public string FilePath { get; } = path;
}

/// <summary>The file is there and readable, but not a usable volume: no header, both copies damaged, truncated.</summary>
public sealed class VolumeDamagedException(string message, string problem) : VolumeException(message)
{
    /// <summary>What is wrong, without the file's name, e.g. "both volume headers are unusable (...)".</summary>
    public string Problem { get; } = problem;
}

/// <summary>The volume file can be read but not opened for writing (its mode, the immutable attribute, a read-only file system).</summary>
public sealed class VolumeNotWritableException(string message) : VolumeException(message);
