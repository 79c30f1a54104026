namespace BlockSim.Storage.Devices;

/// <summary>
/// A device over a base that it never changes: what is written is kept here, sector by sector, and read
/// back in place of the base's sectors; the rest reads from the base. A crash state is built on one over the
/// image the recording started from, and thrown away after its check; <see cref="Reset"/> empties it for
/// the next state without touching the base. Zeroed and trimmed sectors are kept as zeros, which the
/// encryption above reads as zeros (an all-zero ciphertext sector is a hole). <see cref="Seal"/> makes it
/// read-only once a state is built, so the checker cannot change the state it is judging.
/// </summary>
public sealed class CopyOnWriteDevice(IBlockDevice baseDevice, bool ownsBase = false) : IBlockDevice
{
    private readonly Dictionary<long, byte[]> _sectors = [];
    private readonly object _lock = new();
    private bool _sealed;

    public long Capacity => baseDevice.Capacity;

    public int SectorSize => baseDevice.SectorSize;

    public bool IsReadOnly => Volatile.Read(ref _sealed);

    public bool CompletesSynchronously => baseDevice.CompletesSynchronously;

    /// <summary>How many sectors differ from the base.</summary>
    public int ChangedSectors
    {
        get
        {
            lock (_lock)
            {
                return _sectors.Count;
            }
        }
    }

    /// <summary>From now on every write is refused.</summary>
    public void Seal() => Volatile.Write(ref _sealed, true);

    /// <summary>Back to the base, writable again.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            _sectors.Clear();
            _sealed = false;
        }
    }

    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        // The base first, then the kept sectors over it: simple, and the base read is one request.
        await baseDevice.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (_sectors.Count == 0)
            {
                return;
            }

            var size = SectorSize;
            for (var sector = offset / size; sector * size < offset + destination.Length; sector++)
            {
                if (_sectors.TryGetValue(sector, out var kept))
                {
                    Overlap(sector, offset, destination.Length, out var from, out var to, out var length);
                    kept.AsSpan(from, length).CopyTo(destination.Span.Slice(to, length));
                }
            }
        }
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        RefuseIfSealed();
        var size = SectorSize;
        for (var sector = offset / size; sector * size < offset + source.Length; sector++)
        {
            var kept = await SectorToChangeAsync(sector, whole: offset <= sector * size && offset + source.Length >= (sector + 1) * size, cancellationToken).ConfigureAwait(false);
            Overlap(sector, offset, source.Length, out var into, out var from, out var length);
            source.Span.Slice(from, length).CopyTo(kept.AsSpan(into, length));
        }
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        WriteZeroesAsync(offset, length, mayDeallocate: true, fastOnly: false, cancellationToken);

    public async ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        RefuseIfSealed();
        var size = SectorSize;
        for (var sector = offset / size; sector * size < offset + length; sector++)
        {
            var kept = await SectorToChangeAsync(sector, whole: offset <= sector * size && offset + length >= (sector + 1) * size, cancellationToken).ConfigureAwait(false);
            var start = Math.Max(offset, sector * size) - (sector * size);
            var end = Math.Min(offset + length, (sector + 1) * size) - (sector * size);
            kept.AsSpan((int)start, (int)(end - start)).Clear();
        }
    }

    public int GetAllocation(long offset, long length, Span<BlockExtent> extents)
    {
        // Kept sectors are data; the rest is as the base says. Reported as data throughout where anything is
        // kept, which is always a correct answer (a hole is only a promise that a range reads as zeros).
        lock (_lock)
        {
            if (_sectors.Count == 0)
            {
                return baseDevice.GetAllocation(offset, length, extents);
            }
        }

        extents[0] = new BlockExtent(length, Allocation.Data);
        return 1;
    }

    public void Dispose()
    {
        if (ownsBase)
        {
            baseDevice.Dispose();
        }
    }

    /// <summary>The kept copy of <paramref name="sector"/>, made from the base unless the write covers all of it.</summary>
    private async ValueTask<byte[]> SectorToChangeAsync(long sector, bool whole, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_sectors.TryGetValue(sector, out var kept))
            {
                return kept;
            }
        }

        var copy = new byte[SectorSize];
        if (!whole)
        {
            await baseDevice.ReadAsync(sector * SectorSize, copy, cancellationToken).ConfigureAwait(false);
        }

        lock (_lock)
        {
            return _sectors.TryAdd(sector, copy) ? copy : _sectors[sector];
        }
    }

    /// <summary>Where sector <paramref name="sector"/> and the request [offset, offset+length) overlap: the offset in the sector, in the request, and how long.</summary>
    private void Overlap(long sector, long offset, int length, out int inSector, out int inRequest, out int overlap)
    {
        var sectorStart = sector * SectorSize;
        var start = Math.Max(offset, sectorStart);
        var end = Math.Min(offset + length, sectorStart + SectorSize);
        inSector = (int)(start - sectorStart);
        inRequest = (int)(start - offset);
        overlap = (int)(end - start);
    }

    private void RefuseIfSealed()
    {
        if (IsReadOnly)
        {
            throw new IOException("This crash state is read-only: it is checked as it was built.");
        }
    }
}
