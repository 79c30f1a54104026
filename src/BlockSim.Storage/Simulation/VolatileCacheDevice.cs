namespace BlockSim.Storage.Simulation;

/// <summary>
/// A disk with a volatile write cache: writes are acknowledged from the cache and reach the inner device
/// only on FLUSH, or at once when FUA is set. <see cref="PowerCut"/> loses what was not flushed, as a disk
/// without power-loss protection does. The cache works in whole sectors, so a lost write is lost as whole
/// sectors: a sector is never torn. Optionally some unflushed sectors survive the cut (as if the disk had
/// already written them), chosen at random.
/// </summary>
public sealed class VolatileCacheDevice(IBlockDevice inner, double survivalProbability = 0, int seed = 0) : DelegatingBlockDevice(inner)
{
    private readonly Dictionary<long, byte[]> _dirty = [];
    private readonly Random _random = new(seed);
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly int _sector = inner.SectorSize;

    /// <summary>Sectors acknowledged but not yet on the inner device.</summary>
    public int DirtySectors
    {
        get
        {
            lock (_dirty)
            {
                return _dirty.Count;
            }
        }
    }

    public override async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        await Inner.ReadAsync(offset, destination, cancellationToken).ConfigureAwait(false);
        lock (_dirty)
        {
            for (var sector = offset / _sector; sector * _sector < offset + destination.Length; sector++)
            {
                if (_dirty.TryGetValue(sector, out var data))
                {
                    Overlay(data, sector * _sector, offset, destination.Span);
                }
            }
        }
    }

    public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var first = offset / _sector;
            var end = (offset + source.Length + _sector - 1) / _sector;
            for (var sector = first; sector < end; sector++)
            {
                var image = new byte[_sector];
                var start = sector * _sector;
                if (start < offset || start + _sector > offset + source.Length)
                {
                    await ReadAsync(start, image, cancellationToken).ConfigureAwait(false); // partial: the current contents first
                }

                var from = Math.Max(start, offset);
                var to = Math.Min(start + _sector, offset + source.Length);
                source.Span.Slice((int)(from - offset), (int)(to - from)).CopyTo(image.AsSpan((int)(from - start)));
                if (fua)
                {
                    await Inner.WriteAsync(start, image, fua: true, cancellationToken).ConfigureAwait(false);
                    lock (_dirty)
                    {
                        _dirty.Remove(sector);
                    }
                }
                else
                {
                    lock (_dirty)
                    {
                        _dirty[sector] = image;
                    }
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public override async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            KeyValuePair<long, byte[]>[] pending;
            lock (_dirty)
            {
                pending = _dirty.OrderBy(p => p.Key).ToArray();
            }

            foreach (var (sector, data) in pending)
            {
                await Inner.WriteAsync(sector * _sector, data, fua: false, cancellationToken).ConfigureAwait(false);
            }

            await Inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            lock (_dirty)
            {
                foreach (var (sector, data) in pending)
                {
                    if (_dirty.TryGetValue(sector, out var current) && ReferenceEquals(current, data))
                    {
                        _dirty.Remove(sector);
                    }
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public override async ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        await WriteThroughZeroingAsync(offset, length, cancellationToken).ConfigureAwait(false);
        await Inner.TrimAsync(offset, length, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask WriteZeroesAsync(long offset, long length, bool mayDeallocate, bool fastOnly = false, CancellationToken cancellationToken = default)
    {
        await WriteThroughZeroingAsync(offset, length, cancellationToken).ConfigureAwait(false);
        await Inner.WriteZeroesAsync(offset, length, mayDeallocate, fastOnly, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Simulates losing power: every unflushed sector is dropped (or, with the survival probability, written
    /// as a whole). Returns how many sectors were lost.
    /// </summary>
    public int PowerCut()
    {
        KeyValuePair<long, byte[]>[] pending;
        lock (_dirty)
        {
            pending = [.. _dirty];
            _dirty.Clear();
        }

        var lost = 0;
        foreach (var (sector, data) in pending)
        {
            if (survivalProbability > 0 && _random.NextDouble() < survivalProbability)
            {
                Inner.WriteAsync(sector * _sector, data).AsTask().GetAwaiter().GetResult();
            }
            else
            {
                lost++;
            }
        }

        return lost;
    }

    public override void Dispose()
    {
        _lock.Dispose();
        base.Dispose();
    }

    /// <summary>Zeroing goes to the device directly; cached data for those sectors would otherwise hide it.</summary>
    private async ValueTask WriteThroughZeroingAsync(long offset, long length, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_dirty)
            {
                for (var sector = offset / _sector; sector * _sector < offset + length; sector++)
                {
                    if (_dirty.TryGetValue(sector, out var data))
                    {
                        var start = sector * _sector;
                        var from = Math.Max(start, offset) - start;
                        var to = Math.Min(start + _sector, offset + length) - start;
                        data.AsSpan((int)from, (int)(to - from)).Clear();
                    }
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private static void Overlay(byte[] sectorData, long sectorStart, long offset, Span<byte> destination)
    {
        var from = Math.Max(sectorStart, offset);
        var to = Math.Min(sectorStart + sectorData.Length, offset + destination.Length);
        sectorData.AsSpan((int)(from - sectorStart), (int)(to - from)).CopyTo(destination[(int)(from - offset)..]);
    }
}
