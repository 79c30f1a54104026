using System.Runtime.InteropServices;
using BlockSim.Storage.Durability;
using BlockSim.Storage.Native;
using BlockSim.Storage.Volumes.Media;
using Microsoft.Win32.SafeHandles;

namespace BlockSim.Storage.Volumes;

/// <summary>
/// Point-in-time copies of a volume that nobody has open, and rolling the volume back to one. A snapshot is
/// the whole volume file, headers included: the data area is ciphertext under the volume key, and the header
/// holds that key wrapped and bound to the volume id, so a snapshot is a volume file in its own right and
/// opens with the same key. Both directions copy by <see cref="FileCopy"/> (a reflink, or the allocated
/// extents only) into a temporary file beside the destination, sync it, rename it into place and sync the
/// directory: a crash leaves the old file or the complete new one under the final name, never a part of one
/// (at worst a stray hidden .tmp file beside it).
/// </summary>
public static class VolumeSnapshot
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Copies the volume at <paramref name="volumePath"/> to a new file <paramref name="snapshotPath"/> (0600),
    /// whose modification time is the moment the copy began: snapshots are never written again, so it stays
    /// their creation time. The snapshot's folder is made (0700) if missing.
    /// </summary>
    /// <exception cref="VolumeInUseException">A daemon serves the volume (or another command has it open).</exception>
    /// <exception cref="SnapshotExistsException">There is a snapshot of that name already; it is left alone.</exception>
    public static FileCopyReport Create(string volumePath, string snapshotPath, bool tryReflink = true, IProgress<long>? progress = null)
    {
        // The exclusive lock, as resize takes it: nothing writes the volume while it is copied, and a volume
        // that is damaged or truncated is refused here rather than preserved as if it were good.
        using var volume = HeldVolume.Open(volumePath, readOnly: false);
        if (File.Exists(snapshotPath))
        {
            throw new SnapshotExistsException(snapshotPath);
        }

        var directory = EnsureDirectory(snapshotPath);
        var taken = DateTime.UtcNow;
        return WriteAndRename(snapshotPath, directory, replace: false, target =>
        {
            var report = FileCopy.Copy(volume.FileHandle, target, tryReflink, progress);
            File.SetLastWriteTimeUtc(target, taken);
            return report;
        });
    }

    /// <summary>
    /// Replaces the volume at <paramref name="volumePath"/> with a copy of <paramref name="snapshotPath"/>,
    /// which stays. Only a snapshot of this very volume (the same volume id) is accepted.
    /// </summary>
    /// <exception cref="VolumeInUseException">A daemon serves the volume (or another command has it open).</exception>
    /// <exception cref="SnapshotMismatchException">The snapshot is of another volume; nothing is changed.</exception>
    public static SnapshotRollback Rollback(string volumePath, string snapshotPath, bool tryReflink = true, IProgress<long>? progress = null)
    {
        using var volume = new FileVolumeLocation(volumePath).Open(readOnly: false); // as resize: refused while served
        VolumeHeader current;
        try
        {
            (current, _) = HeldVolume.ReadHeader(volume);
        }
        catch (VolumeDamagedException e)
        {
            throw new VolumeDamagedException(
                $"{volumePath}: {e.Problem}, so it cannot be checked that {snapshotPath} is a snapshot of it; nothing was changed. If you are sure it is, copy it over the volume by hand (cp --sparse=always) while no daemon serves it.",
                e.Problem);
        }

        using var snapshot = HeldVolume.Open(snapshotPath, readOnly: true); // its header and length are checked too
        if (snapshot.Header.VolumeId != current.VolumeId)
        {
            throw new SnapshotMismatchException(snapshotPath, snapshot.Header.VolumeId, volumePath, current.VolumeId);
        }

        // A re-wrap since the snapshot (a newer master-key version, or another master key) changed how the
        // volume key is wrapped, never the key itself: the same volume id means the same key. Bringing back
        // the older wrapping would undo the re-wrap, and could leave the volume unreadable once the old
        // version is no longer allowed to decrypt; so the volume keeps the wrapping it has now.
        var keepWrapping = snapshot.Header.KeyId != current.KeyId || !snapshot.Header.WrappedKey.AsSpan().SequenceEqual(current.WrappedKey);

        // A volume made with --preallocate has its whole data area reserved, so its writes never fail for
        // lack of space; the sparse copy would silently give that up, so the reservation is made again (for
        // a volume written full too, which cannot be told apart: it keeps the space it had).
        var reserved = LibC.AllocatedBytes(volumePath) >= current.Capacity;
        var directory = Path.GetDirectoryName(Path.GetFullPath(volumePath))!;
        var report = WriteAndRename(volumePath, directory, replace: true, target =>
        {
            var copied = FileCopy.Copy(snapshot.FileHandle, target, tryReflink, progress);
            if (keepWrapping)
            {
                Volume.WriteHeaders(new FileVolumeMedium(volumePath, target, readOnly: false, ownsHandle: false), snapshot.Header with { KeyId = current.KeyId, WrappedKey = current.WrappedKey });
            }

            if (reserved)
            {
                Reserve(volumePath, target, snapshot.Header.Capacity);
            }

            return copied;
        });
        return new SnapshotRollback(report, keepWrapping, reserved);
    }

    /// <summary>What a snapshot is, read without a key and without its lock (it is never written in place).</summary>
    public static SnapshotFileInfo Inspect(string snapshotPath)
    {
        var (header, _) = Volume.ReadHeader(snapshotPath);
        return new SnapshotFileInfo(snapshotPath, header.VolumeId, header.Capacity, File.GetLastWriteTimeUtc(snapshotPath), LibC.AllocatedBytes(snapshotPath));
    }

    /// <summary>Deletes a snapshot file; refused while a rollback reads it (it holds the lock).</summary>
    public static void Delete(string snapshotPath)
    {
        using (FileVolumeMedium.OpenLocked(snapshotPath, readOnly: false))
        {
            File.Delete(snapshotPath);
        }

        DirectorySync.FlushParentOf(snapshotPath);
    }

    /// <summary>
    /// Writes <paramref name="path"/> through a temporary file beside it: filled by <paramref name="fill"/>,
    /// synced, renamed into place (over an old file only when <paramref name="replace"/>), the directory synced.
    /// </summary>
    private static FileCopyReport WriteAndRename(string path, string directory, bool replace, Func<SafeFileHandle, FileCopyReport> fill)
    {
        RemoveLeftovers(directory, Path.GetFileName(path));
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        using var target = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            UnixCreateMode = OwnerOnly,
        });
        try
        {
            // Locked until the directory is synced: once renamed, this file is the volume, and a daemon that
            // opened it before the rename was durable could have its flushed writes undone by a crash.
            if (LibC.flock((int)target.SafeFileHandle.DangerousGetHandle(), LibC.LockExclusive | LibC.LockNonBlocking) != 0)
            {
                throw new IOException($"Cannot lock {temporary} ({Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}).");
            }

            var report = fill(target.SafeFileHandle);
            RandomAccess.FlushToDisk(target.SafeFileHandle);
            try
            {
                File.Move(temporary, path, overwrite: replace);
            }
            catch (IOException) when (!replace && File.Exists(path))
            {
                throw new SnapshotExistsException(path); // made meanwhile by another command
            }

            DirectorySync.Flush(directory);
            return report;
        }
        catch
        {
            File.Delete(temporary); // gone already if the rename happened
            throw;
        }
    }

    /// <summary>
    /// Deletes the temporary files a crash in the middle of a copy to <paramref name="fileName"/> left behind.
    /// The caller holds the volume's lock, so no other copy of this volume runs; one that is still locked is
    /// being written all the same, and is left alone.
    /// </summary>
    private static void RemoveLeftovers(string directory, string fileName)
    {
        foreach (var leftover in Directory.GetFiles(directory, $".{fileName}.{new string('?', 32)}.tmp"))
        {
            try
            {
                using (FileVolumeMedium.OpenLocked(leftover, readOnly: false))
                {
                    File.Delete(leftover);
                }
            }
            catch (VolumeException)
            {
                // in use, or already gone
            }
        }
    }

    /// <summary>fallocate over the data area: holes become reserved zeros, data stays as it is.</summary>
    private static void Reserve(string volumePath, SafeFileHandle target, long capacity)
    {
        if (LibC.fallocate(target.DangerousGetHandle(), 0, VolumeHeader.DataOffset, capacity) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new VolumeException(errno == LibC.ENOSPC
                ? $"{volumePath} has all its {capacity} bytes of disk space reserved (preallocated), and there is not enough free space to reserve them again for the rolled-back volume; nothing was changed. Free some space and try again."
                : $"{volumePath} has all its disk space reserved (preallocated), and reserving it again for the rolled-back volume failed ({Marshal.GetPInvokeErrorMessage(errno)}); nothing was changed.");
        }
    }

    /// <summary>The folder of <paramref name="path"/>, made private if missing, and made durable in its parent.</summary>
    private static string EnsureDirectory(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, OwnerOnly | UnixFileMode.UserExecute);
            DirectorySync.FlushParentOf(directory);
        }

        return directory;
    }
}

/// <summary>A snapshot file: its volume's id and capacity then, when it was taken, and the disk space it takes.</summary>
public sealed record SnapshotFileInfo(string Path, Guid VolumeId, long Capacity, DateTime CreatedUtc, long AllocatedBytes);

/// <summary>
/// How a rollback copied; whether the volume kept its current key wrapping (it was re-wrapped since the
/// snapshot); whether its disk space was reserved again (it was preallocated).
/// </summary>
public sealed record SnapshotRollback(FileCopyReport Copy, bool KeptCurrentKeyWrapping, bool KeptReservation);

/// <summary>A snapshot of that name exists already; snapshots are never overwritten.</summary>
public sealed class SnapshotExistsException(string path) : VolumeException($"{path} already exists; a snapshot is never overwritten.")
{
    public string FilePath { get; } = path;
}

/// <summary>A rollback was asked from a snapshot of another volume (another volume id); nothing was changed.</summary>
public sealed class SnapshotMismatchException(string snapshotPath, Guid snapshotVolumeId, string volumePath, Guid volumeId) : VolumeException(
    $"{snapshotPath} is a snapshot of volume {snapshotVolumeId}, but {volumePath} is volume {volumeId} (the volume was re-created under the same name since, or the file was put there by hand). Refusing to roll back; nothing was changed.")
{
    public string FilePath { get; } = snapshotPath;
}
