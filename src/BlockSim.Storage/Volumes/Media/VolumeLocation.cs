namespace BlockSim.Storage.Volumes.Media;

/// <summary>
/// Where a volume lives, not yet opened: a file (<see cref="FileVolumeLocation"/>) or, from a backend
/// project, an image in a shared store. Each kind enforces one writer with its own lock (flock for a file,
/// the store's exclusive lock for an image); every failure is a <see cref="VolumeException"/> naming
/// <see cref="Name"/>.
/// </summary>
public abstract class VolumeLocation
{
    /// <summary>How the user names it: a path, or <c>rbd:POOL/IMAGE</c>.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// True when other hosts can open it too, so a lock held elsewhere may be another daemon's (and may go
    /// away, or be taken over): a server then keeps the export and asks again, instead of refusing to start.
    /// </summary>
    public virtual bool IsShared => false;

    public abstract bool Exists();

    /// <summary>Opens and locks it: exclusively for writing, shared (or, where the store has no shared lock, unlocked) for reading.</summary>
    /// <exception cref="VolumeInUseException">Someone else holds the lock.</exception>
    public abstract IVolumeMedium Open(bool readOnly);

    /// <summary>Opens it for reading without the lock, to read a header a serving daemon's lock keeps still.</summary>
    public abstract IVolumeMedium OpenUnlocked();

    /// <summary>Creates it empty at <paramref name="length"/> bytes (sparse), held exclusively; refuses to replace anything.</summary>
    public abstract IVolumeMedium Create(long length);

    /// <summary>Removes it. <paramref name="held"/> is this location opened for writing (the proof nobody else has it); it is disposed here.</summary>
    public abstract void Delete(IVolumeMedium held);

    public override string ToString() => Name;
}
