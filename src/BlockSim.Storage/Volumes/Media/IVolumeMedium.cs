namespace BlockSim.Storage.Volumes.Media;

/// <summary>
/// The bytes of one volume, opened: a file on this host or an image in a shared store. A volume is the
/// same layout on every medium (<see cref="VolumeHeader"/> at 0 and 512 KiB, data from 1 MiB), so copying a
/// medium's bytes to another kind gives a volume that opens there. Opened through
/// <see cref="VolumeLocation"/>, which takes the medium's own lock; disposing releases it.
/// </summary>
public interface IVolumeMedium : IDisposable
{
    /// <summary>How the user names it: a path, or <c>rbd:POOL/IMAGE</c>; every message about it starts with this.</summary>
    string Location { get; }

    /// <summary>"file" or "image", for messages ("the file is 4096 bytes ...").</summary>
    string Noun { get; }

    bool IsReadOnly { get; }

    /// <summary>
    /// Why this holder may no longer write, where the medium's lock can be taken from it (a shared store's
    /// exclusive lock, broken by a takeover, which fences this client); null while it holds the lock, or
    /// for a medium whose lock cannot be lost (a file's flock goes only with the process).
    /// </summary>
    string? LockLost => null;

    /// <summary>The medium's size in bytes, header area included.</summary>
    long Length { get; }

    /// <summary>Reads at <paramref name="offset"/>; returns fewer bytes than asked for only at the end.</summary>
    int Read(long offset, Span<byte> destination);

    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes every write so far durable.</summary>
    void Flush();

    /// <summary>Grows (sparse) or truncates; a size the medium cannot hold is a <see cref="VolumeException"/> that says so.</summary>
    void SetLength(long length);

    /// <summary>A block device over <paramref name="length"/> bytes from <paramref name="offset"/>; the medium keeps owning its handle and must outlive it.</summary>
    IBlockDevice OpenRegion(long offset, long length);
}
