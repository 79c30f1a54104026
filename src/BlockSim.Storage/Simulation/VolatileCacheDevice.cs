using BlockSim.Storage.Simulation.Faults;

namespace BlockSim.Storage.Simulation;

/// <summary>
/// A disk with a volatile write cache: writes are acknowledged from the cache and reach the inner device
/// only on FLUSH, or at once when FUA is set. <see cref="PowerCut(PowerCutOptions)"/> loses what was not
/// flushed, as a disk without power-loss protection does. The cache keeps every version of each sector
/// written since the last flush (up to <see cref="VersionsKept"/>), so a cut in which some pieces of some
/// writes survive leaves a state the disk could really be in; a sector is never torn inside itself.
/// </summary>
public sealed class VolatileCacheDevice(IBlockDevice inner, double survivalProbability = 0, int seed = 0) : DelegatingBlockDevice(inner)
{
    /// <summary>Versions of one sector kept per flush epoch; older ones are dropped (every state a cut makes stays possible, some possible states are no longer made).</summary>
    public const int VersionsKept = 16;

    /// <summary>Bytes held in older versions (beyond each sector's newest) at most; past it a rewrite replaces the sector's versions, as a cache without history would.</summary>
    public const long MaxHistoryBytes = 256L << 20;
    private long _historyBytes;
    private readonly Dictionary<long, List<(long Write, byte[] Image)>> _dirty = [];
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly int _sector = inner.SectorSize;
    private long _writes;
    private long _cuts;

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
                if (_dirty.TryGetValue(sector, out var versions))
                {
                    Overlay(versions[^1].Image, sector * _sector, offset, destination.Span);
                }
            }
        }
    }

    public override async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool fua = false, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var write = ++_writes;
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
                        Forget(sector);
                    }
                }
                else
                {
                    lock (_dirty)
                    {
                        if (!_dirty.TryGetValue(sector, out var versions))
                        {
                            _dirty[sector] = versions = [];
                        }

                        if (versions.Count > 0 && (versions.Count == VersionsKept || _historyBytes + _sector > MaxHistoryBytes))
                        {
                            // Drop the oldest (or, past the budget, every older) version; what is kept stays a possible state.
                            var drop = _historyBytes + _sector > MaxHistoryBytes ? versions.Count : 1;
                            versions.RemoveRange(0, drop);
                            _historyBytes -= (long)(drop - 1) * _sector;
                        }
                        else if (versions.Count > 0)
                        {
                            _historyBytes += _sector;
                        }

                        versions.Add((write, image));
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
                pending = _dirty.OrderBy(p => p.Key).Select(p => KeyValuePair.Create(p.Key, p.Value[^1].Image)).ToArray();
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
                    if (_dirty.TryGetValue(sector, out var current) && ReferenceEquals(current[^1].Image, data))
                    {
                        Forget(sector);
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

    /// <summary>A power cut as configured at construction: each unflushed sector survives on its own with the survival probability.</summary>
    public int PowerCut() => PowerCut(new PowerCutOptions(survivalProbability, PowerCutTearing.Sector, seed)).LostSectors;

    /// <summary>
    /// Simulates losing power: each piece of each unflushed write survives or not as <paramref name="options"/>
    /// say; every sector is left with its newest surviving version, or with what was durable.
    /// </summary>
    public PowerCutResult PowerCut(PowerCutOptions options)
    {
        KeyValuePair<long, List<(long Write, byte[] Image)>>[] pending;
        lock (_dirty)
        {
            pending = [.. _dirty];
            _dirty.Clear();
            _historyBytes = 0;
        }

        var cut = Interlocked.Increment(ref _cuts);
        var pieces = new Dictionary<long, (int Survived, int Lost)>();
        int lost = 0, surviving = 0;
        foreach (var (sector, versions) in pending.OrderBy(p => p.Key))
        {
            byte[]? survivor = null;
            for (var i = versions.Count - 1; i >= 0; i--)
            {
                var (write, image) = versions[i];
                var piece = options.Tearing switch
                {
                    PowerCutTearing.None => -1,
                    PowerCutTearing.Block4K => sector * _sector / 4096,
                    _ => sector,
                };
                var survives = options.Survival > 0 && FaultDice.Roll(options.Seed, (int)cut, FaultOperations.Write, piece, write) < options.Survival;
                var (yes, no) = pieces.GetValueOrDefault(write);
                pieces[write] = survives ? (yes + 1, no) : (yes, no + 1);
                if (survives && survivor is null)
                {
                    survivor = image;
                }
            }

            if (survivor is null)
            {
                lost++;
                continue;
            }

            surviving++;
            Inner.WriteAsync(sector * _sector, survivor).AsTask().GetAwaiter().GetResult();
        }

        return new PowerCutResult(lost, surviving, pieces.Values.Count(p => p.Survived > 0 && p.Lost > 0));
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
                    if (_dirty.TryGetValue(sector, out var versions))
                    {
                        var start = sector * _sector;
                        var from = Math.Max(start, offset) - start;
                        var to = Math.Min(start + _sector, offset + length) - start;
                        foreach (var (_, data) in versions)
                        {
                            data.AsSpan((int)from, (int)(to - from)).Clear(); // no version may bring the zeroed bytes back at a cut
                        }
                    }
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The sector is durable: its versions go (under the lock on the dictionary).</summary>
    private void Forget(long sector)
    {
        if (_dirty.Remove(sector, out var versions))
        {
            _historyBytes -= (long)(versions.Count - 1) * _sector;
        }
    }

    private static void Overlay(byte[] sectorData, long sectorStart, long offset, Span<byte> destination)
    {
        var from = Math.Max(sectorStart, offset);
        var to = Math.Min(sectorStart + sectorData.Length, offset + destination.Length);
        sectorData.AsSpan((int)(from - sectorStart), (int)(to - from)).CopyTo(destination[(int)(from - offset)..]);
    }
}
