using System.Runtime.InteropServices;
using BlockSim.Crypto;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Native;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Storage.Volumes;

/// <summary>
/// A volume file held open and locked for as long as this object lives, its header read and checked against
/// the file's length, its key not yet needed: what a daemon holds for every volume it serves, from start-up
/// to shutdown. Read-write takes an exclusive lock, so no other process can open the volume, resize it,
/// re-wrap or delete it, and the <see cref="Header"/> read here stays the truth; read-only takes a shared
/// lock, which other readers may share and no writer can.
/// </summary>
/// <remarks>
/// The lock is flock(2) on the open file, the lock .NET's own <c>FileShare.None</c> takes, so it excludes
/// every blocksim that opens volumes either way; it goes with the file descriptor, so a crash releases it.
/// It is taken explicitly, not through <c>FileShare</c>, so that a lock held elsewhere (EWOULDBLOCK) is told
/// apart from a file that cannot be opened for writing (EACCES, EPERM: mode, immutable attribute), and so
/// that <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c> cannot switch it off.
/// </remarks>
public sealed class VolumeFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private bool _unlocked;

    private VolumeFile(string path, SafeFileHandle handle, VolumeHeader header, IReadOnlyList<string> warnings, bool readOnly)
    {
        Path = path;
        _handle = handle;
        Header = header;
        Warnings = warnings;
        IsReadOnly = readOnly;
    }

    public string Path { get; }

    public VolumeHeader Header { get; }

    public IReadOnlyList<string> Warnings { get; }

    public bool IsReadOnly { get; }

    /// <summary>The locked file, for whole-file work such as a snapshot that must happen under this lock.</summary>
    internal SafeFileHandle Handle => _handle;

    /// <summary>Opens and locks a volume file and validates its header; no key is needed yet.</summary>
    /// <exception cref="VolumeInUseException">Another process (or another open in this one) holds the lock.</exception>
    /// <exception cref="VolumeNotWritableException">The file can be read but not opened for writing.</exception>
    /// <exception cref="VolumeException">Missing, damaged, truncated or of another format.</exception>
    public static VolumeFile Open(string path, bool readOnly = false)
    {
        var handle = OpenLocked(path, readOnly);
        try
        {
            var (header, warnings) = ReadHeader(path, handle);
            var expected = VolumeHeader.DataOffset + header.Capacity;
            var length = RandomAccess.GetLength(handle);
            if (length < expected)
            {
                throw new VolumeDamagedException(
                    $"{path}: the file is {length} bytes but its header describes {expected} ({header.Capacity} bytes of data after the 1 MiB header area); it was truncated outside blocksim.",
                    $"the file is {length} bytes, shorter than the {expected} its header describes (truncated outside blocksim)");
            }

            if (length > expected)
            {
                // Only an interrupted resize leaves this (see Volume.Resize); the header is the truth, the tail unused.
                warnings = [.. warnings, $"{path}: the file is {length - expected} bytes longer than its header describes (an interrupted resize?); the extra bytes are ignored. Run 'blocksim volume resize' again to finish it."];
            }

            return new VolumeFile(path, handle, header, warnings, readOnly);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Unwraps the key through <paramref name="keys"/> and returns the decrypted view of the data area, over
    /// this file's handle; this object keeps owning (and locking) the file and must outlive the volume.
    /// Once only: a second volume over the same file would have a cache of its own.
    /// </summary>
    /// <param name="underEncryption">
    /// Optionally wraps the ciphertext device before encryption is layered on, where a real disk's behaviour
    /// belongs (device simulation: a volatile cache then holds ciphertext, as a disk would).
    /// </param>
    public Volume Unlock(IVolumeKeyProvider keys, Func<IBlockDevice, IBlockDevice>? underEncryption = null) => Unlock(keys, underEncryption, ownsFile: false);

    /// <summary>Closes the file, which releases the lock.</summary>
    public void Dispose() => _handle.Dispose();

    /// <inheritdoc cref="Unlock(IVolumeKeyProvider, Func{IBlockDevice, IBlockDevice}?)"/>
    /// <param name="ownsFile">The volume closes this file when it is disposed (<see cref="Volume.Open"/>).</param>
    internal Volume Unlock(IVolumeKeyProvider keys, Func<IBlockDevice, IBlockDevice>? underEncryption, bool ownsFile)
    {
        using var key = UnwrapKey(keys);
        return Unlock(key, underEncryption, ownsFile);
    }

    /// <summary>
    /// Asks <paramref name="keys"/> for this volume's key (a key store decides for its caller, and audits
    /// the request): every attach, first or not, goes through here. Dispose the key to zero it.
    /// </summary>
    /// <exception cref="VolumeKeyException">The provider refused or failed.</exception>
    public UnwrappedVolumeKey UnwrapKey(IVolumeKeyProvider keys)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
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
    public Volume Unlock(UnwrappedVolumeKey key, Func<IBlockDevice, IBlockDevice>? underEncryption = null) => Unlock(key, underEncryption, ownsFile: false);

    private Volume Unlock(UnwrappedVolumeKey key, Func<IBlockDevice, IBlockDevice>? underEncryption, bool ownsFile)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (_unlocked)
        {
            throw new InvalidOperationException($"{Path} is already unlocked.");
        }

        if (key.VolumeId != Header.VolumeId)
        {
            throw new ArgumentException($"The key given is for volume {key.VolumeId}, not {Header.VolumeId}.", nameof(key));
        }

        var xts = new XtsAes256(key.Bytes);
        IBlockDevice data = new FileBlockDevice(_handle, VolumeHeader.DataOffset, Header.Capacity, IsReadOnly, ownsHandle: false);
        data = underEncryption?.Invoke(data) ?? data;
        _unlocked = true;
        return new Volume(this, new EncryptedBlockDevice(data, xts, Header.SectorSize), ownsFile);
    }

    /// <summary>
    /// Opens <paramref name="path"/> (read-write, or read-only) and takes its lock without waiting: exclusive
    /// for read-write, shared for read-only. Every failure is a <see cref="VolumeException"/> naming the file.
    /// </summary>
    internal static SafeFileHandle OpenLocked(string path, bool readOnly)
    {
        if (Directory.Exists(path))
        {
            throw new VolumeException($"{path} is a directory, not a volume file.");
        }

        var fd = LibC.open(path, (readOnly ? LibC.ReadOnly : LibC.ReadWrite) | LibC.CloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                LibC.ENOENT => new VolumeException($"{path}: no such volume file."),
                LibC.EACCES or LibC.EPERM or LibC.EROFS when !readOnly && CanRead(path) => new VolumeNotWritableException(
                    $"{path} cannot be opened for writing ({Marshal.GetPInvokeErrorMessage(errno)}): the file is read-only or immutable (see ls -l and lsattr) or on a read-only file system."),
                _ => new VolumeException($"{path}: cannot open ({Marshal.GetPInvokeErrorMessage(errno)})."),
            };
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (LibC.flock(fd, (readOnly ? LibC.LockShared : LibC.LockExclusive) | LibC.LockNonBlocking) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw errno == LibC.EWOULDBLOCK
                ? new VolumeInUseException(path, readOnly)
                : new VolumeException($"{path}: cannot lock ({Marshal.GetPInvokeErrorMessage(errno)}).");
        }

        return handle;
    }

    /// <summary>Reads the primary header, or the backup (with a warning) where the primary is unusable.</summary>
    internal static (VolumeHeader, IReadOnlyList<string>) ReadHeader(string path, SafeFileHandle handle)
    {
        var primary = ReadCopy(handle, VolumeHeader.PrimaryOffset);
        var header = VolumeHeader.TryParse(primary, out var primaryProblem);
        if (header is not null)
        {
            return (header, []);
        }

        var backup = ReadCopy(handle, VolumeHeader.BackupOffset);
        header = VolumeHeader.TryParse(backup, out var backupProblem);
        if (header is not null)
        {
            return (header, [$"{path}: the primary header is unusable ({primaryProblem}); using the backup copy."]);
        }

        if (primaryProblem == "no BlockSim volume magic" && backupProblem == "no BlockSim volume magic")
        {
            throw new VolumeDamagedException($"{path} is not a BlockSim volume (no volume header found).", "not a BlockSim volume (no volume header found)");
        }

        var problem = $"both volume headers are unusable (primary: {primaryProblem}; backup: {backupProblem})";
        throw new VolumeDamagedException($"{path}: {problem}. The data cannot be located safely.", problem);
    }

    private static bool CanRead(string path)
    {
        var fd = LibC.open(path, LibC.ReadOnly | LibC.CloseOnExec);
        if (fd < 0)
        {
            return false;
        }

        LibC.close(fd);
        return true;
    }

    private static byte[] ReadCopy(SafeFileHandle handle, long offset)
    {
        var bytes = new byte[VolumeHeader.Size];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), offset + read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return bytes;
    }
}
