using BlockSim.Storage.Rbd.Native;
using BlockSim.Storage.Volumes;
using BlockSim.Storage.Volumes.Media;

namespace BlockSim.Storage.Rbd.Volumes;

/// <summary>
/// A volume on an RBD image, <c>rbd:POOL/IMAGE</c>: the same bytes as a volume file (headers at 0 and
/// 512 KiB, ciphertext from 1 MiB), so <c>rbd export</c> gives a volume file and <c>rbd import</c> of one
/// gives an RBD volume. One writer is Ceph's exclusive lock: held here, refused to anyone else, and broken
/// only by <see cref="TakeOver"/>, which fences the old holder. The pool (and its connection) must outlive
/// what this opens.
/// </summary>
public sealed class RbdVolumeLocation : VolumeLocation
{
    private readonly RbdPool _pool;

    public RbdVolumeLocation(RbdPool pool, string image)
    {
        ArgumentNullException.ThrowIfNull(pool);
        RbdVolumeName.CheckPart(image, "image");
        _pool = pool;
        Image = image;
    }

    public string Image { get; }

    public string Pool => _pool.Name;

    public override string Name => RbdVolumeName.Format(_pool.Name, Image);

    /// <summary>Any host with access to the cluster can open it: a lock held elsewhere may be another daemon's.</summary>
    public override bool IsShared => true;

    private string ImageName => $"{_pool.Name}/{Image}";

    public override bool Exists()
    {
        // Only "no such image" is an answer; any other failure (permission, a cluster gone) is an error that names the volume.
        try
        {
            OpenHandle(readOnly: true).Dispose();
            return true;
        }
        catch (VolumeException e) when (e.InnerException is RbdException { Errno: Errno.ENOENT })
        {
            return false;
        }
    }

    public override IVolumeMedium Open(bool readOnly)
    {
        var handle = OpenHandle(readOnly);
        try
        {
            if (!readOnly)
            {
                RbdBlockDevice.AcquireLock(handle, ImageName);
            }

            return new RbdVolumeMedium(handle, Name, ImageName, readOnly);
        }
        catch (RbdLockHeldException e)
        {
            handle.Dispose();
            throw new VolumeInUseException(Name, e.Owners,
                $"{Name} is in use: the Ceph client at {Holders(e.Owners)} holds its exclusive lock, so only that client may write it (a daemon serving it, or a blocksim command). " +
                $"If that host is gone for good, take the volume over: blocksim volume takeover {Name} (Ceph then fences the old holder).", e);
        }
        catch (RbdException e)
        {
            handle.Dispose();
            throw Wrap(e);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    // An RBD image has no shared lock that keeps writers out, so a reader opens it read-only without one.
    public override IVolumeMedium OpenUnlocked() => Open(readOnly: true);

    public override IVolumeMedium Create(long length)
    {
        try
        {
            RbdBlockDevice.Create(_pool, Image, length);
        }
        catch (RbdException e) when (e.Errno == Errno.EEXIST)
        {
            throw new VolumeException($"{Name} already exists; nothing was changed (remove it with blocksim volume delete {Name}, or choose another name).", e);
        }
        catch (RbdException e)
        {
            throw Wrap(e);
        }

        try
        {
            return Open(readOnly: false);
        }
        catch
        {
            TryRemove();
            throw;
        }
    }

    public override void Delete(IVolumeMedium held)
    {
        held.Dispose(); // rbd_remove refuses an image this client still has open
        try
        {
            RbdBlockDevice.Remove(_pool, Image);
        }
        catch (RbdException e) when (e.Errno == Errno.EBUSY)
        {
            throw new VolumeInUseException(Name, [], $"{Name} is in use: another client opened it (it has watchers), so it was not removed. Stop what serves or reads it, then try again.", e);
        }
        catch (RbdException e)
        {
            throw Wrap(e);
        }
    }

    /// <summary>
    /// Breaks the exclusive lock of a holder that is gone (a crashed or partitioned host), for this client
    /// to open the volume next; Ceph blocklists the holder, so if it was only paused, its later writes fail
    /// instead of landing after the volume moved. Returns the holders broken (none when it was free).
    /// </summary>
    public IReadOnlyList<string> TakeOver()
    {
        try
        {
            return RbdBlockDevice.BreakLock(_pool, Image);
        }
        catch (RbdException e)
        {
            throw Wrap(e);
        }
    }

    /// <summary>Who holds the exclusive lock now (its client address, "127.0.0.1:0/3712"), none when it is free.</summary>
    public IReadOnlyList<string> LockHolders()
    {
        try
        {
            using var handle = OpenHandle(readOnly: false);
            return RbdBlockDevice.GetLockOwners(handle, ImageName);
        }
        catch (RbdException e)
        {
            throw Wrap(e);
        }
    }

    private RbdImageHandle OpenHandle(bool readOnly)
    {
        try
        {
            return RbdBlockDevice.OpenHandle(_pool, Image, readOnly);
        }
        catch (RbdException e)
        {
            throw Wrap(e);
        }
    }

    private void TryRemove()
    {
        try
        {
            RbdBlockDevice.Remove(_pool, Image);
        }
        catch (RbdException)
        {
            // The open failed for a reason already being reported; an image left behind is named by it.
        }
    }

    private static string Holders(IReadOnlyList<string> owners) => owners.Count == 0 ? "(unknown: it let go while asked)" : string.Join(", ", owners);

    private VolumeException Wrap(RbdException e) => e.Errno == Errno.ENOENT
        ? new VolumeException($"{Name}: no such volume (there is no image {Image} in pool {_pool.Name}).", e)
        : new VolumeException($"{Name}: {e.Message}", e);
}
