using BlockSim.Daemon.Service;
using BlockSim.Storage.Rbd.Volumes;
using BlockSim.Storage.Volumes.Media;

namespace BlockSim.Daemon.Volumes;

/// <summary>
/// Turns a volume's name as the user writes it into where it lives: a plain name is NAME.vol in the data
/// directory, <c>rbd:POOL/IMAGE</c> an RBD image in the cluster of <see cref="CephConnection"/>.
/// </summary>
/// <param name="ownsCeph">Disposing this closes the connection (a command's own; the daemon's outlives each lookup).</param>
internal sealed class VolumeLocator(DataDirectory data, CephConnection ceph, bool ownsCeph = false) : IDisposable
{
    public static bool IsRbd(string name) => RbdVolumeName.IsRbd(name);

    /// <summary>Checks the name's form (an <see cref="InvalidVolumeNameException"/> when it is wrong); connects to Ceph only for an RBD name.</summary>
    public VolumeLocation Resolve(string name)
    {
        if (!IsRbd(name))
        {
            return new FileVolumeLocation(data.VolumePath(DataDirectory.CheckVolumeName(name)));
        }

        var (pool, image) = CheckRbdName(name);
        return new RbdVolumeLocation(ceph.Pool(pool), image);
    }

    /// <summary>As <see cref="Resolve"/>, and the volume must be there (a <see cref="FileNotFoundException"/> that says where it was looked for).</summary>
    public VolumeLocation Existing(string name)
    {
        var location = Resolve(name);
        return location.Exists() ? location
            : throw new FileNotFoundException(IsRbd(name)
                ? $"There is no volume {name}: no image {((RbdVolumeLocation)location).Image} in pool {((RbdVolumeLocation)location).Pool}."
                : $"There is no volume named '{name}' in {data.VolumesPath}.");
    }

    /// <summary>The names of an RBD pool's images (volumes or not).</summary>
    public IReadOnlyList<string> Images(string pool)
    {
        try
        {
            return ceph.Pool(pool).ListImages();
        }
        catch (Storage.Rbd.RbdException e)
        {
            throw new Storage.Volumes.VolumeException($"rbd:{pool}: {e.Message}", e);
        }
    }

    public void Dispose()
    {
        if (ownsCeph)
        {
            ceph.Dispose();
        }
    }

    /// <summary>A volume name as the commands and the configuration take it: a name in the data directory, or rbd:POOL/IMAGE (checked, not yet looked up).</summary>
    public static string CheckName(string name)
    {
        if (IsRbd(name))
        {
            CheckRbdName(name);
            return name;
        }

        return DataDirectory.CheckVolumeName(name);
    }

    /// <summary>Checks an rbd:POOL/IMAGE name without connecting.</summary>
    public static (string Pool, string Image) CheckRbdName(string name)
    {
        try
        {
            return RbdVolumeName.Parse(name);
        }
        catch (ArgumentException e)
        {
            throw new InvalidVolumeNameException(e.Message);
        }
    }
}
