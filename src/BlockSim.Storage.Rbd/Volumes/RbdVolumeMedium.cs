using BlockSim.Storage.Rbd.Native;
using BlockSim.Storage.Volumes;
using BlockSim.Storage.Volumes.Media;

namespace BlockSim.Storage.Rbd.Volumes;

/// <summary>
/// A volume's RBD image, open: read-write holds the image's exclusive lock (taken explicitly, so Ceph keeps
/// it to this client until it closes or is fenced), read-only holds no lock. Header reads and writes are
/// librbd's synchronous calls; the data area is an <see cref="RbdBlockDevice"/> region over the same handle.
/// </summary>
internal sealed unsafe class RbdVolumeMedium : IVolumeMedium
{
    private readonly RbdImageHandle _image;
    private readonly string _imageName;

    public RbdVolumeMedium(RbdImageHandle image, string location, string imageName, bool readOnly)
    {
        _image = image;
        _imageName = imageName;
        Location = location;
        IsReadOnly = readOnly;
    }

    public string Location { get; }

    public string Noun => "image";

    public bool IsReadOnly { get; }

    public long Length => (long)RbdBlockDevice.GetSize(_image, _imageName);

    public string? LockLost => IsReadOnly || HoldsLock ? null
        : "this client no longer holds the image's exclusive lock: another client took the volume over (blocksim volume takeover) and Ceph fenced this one, so nothing it writes is accepted";

    /// <summary>Whether this client still holds the exclusive lock (false once another client broke it).</summary>
    private bool HoldsLock => Librbd.rbd_is_exclusive_lock_owner(_image.DangerousGetHandle(), out var owner) == 0 && owner != 0;

    public int Read(long offset, Span<byte> destination)
    {
        var length = Math.Min(destination.Length, Math.Max(0, Length - offset));
        fixed (byte* buffer = destination)
        {
            var result = Librbd.rbd_read(_image.DangerousGetHandle(), (ulong)offset, (nuint)length, buffer);
            if (result < 0)
            {
                throw Fail((int)-result, $"Reading {length} bytes at {offset}");
            }

            return (int)result;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        fixed (byte* buffer = source)
        {
            var result = Librbd.rbd_write(_image.DangerousGetHandle(), (ulong)offset, (nuint)source.Length, buffer);
            if (result < 0)
            {
                throw Fail((int)-result, $"Writing {source.Length} bytes at {offset}");
            }

            if (result != source.Length)
            {
                throw new VolumeException($"{Location}: writing {source.Length} bytes at {offset} wrote only {result}.");
            }
        }
    }

    public void Flush()
    {
        var result = Librbd.rbd_flush(_image.DangerousGetHandle());
        if (result < 0)
        {
            throw Fail(-result, "Flushing");
        }
    }

    public void SetLength(long length)
    {
        var result = Librbd.rbd_resize(_image.DangerousGetHandle(), (ulong)length);
        if (result < 0)
        {
            throw Fail(-result, $"Resizing to {length} bytes");
        }
    }

    public IBlockDevice OpenRegion(long offset, long length) => RbdBlockDevice.Region(_image, _imageName, offset, length, IsReadOnly);

    /// <summary>Closes the image: librbd flushes its cache and gives the lock up.</summary>
    public void Dispose() => _image.Dispose();

    private VolumeException Fail(int errno, string action)
    {
        var cause = RbdErrors.Create(errno, action);
        return new VolumeException($"{Location}: {cause.Message}", cause);
    }
}
