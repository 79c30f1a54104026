namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// Enumerates crash recipes for a log, lazily, by strategy; an explorer builds each with
/// <see cref="CrashStateModel.Build"/> (or <see cref="States"/>), lays it over a copy of the base image and
/// runs its checker. Unless crash points are given, each strategy visits the points where its states can
/// change (<see cref="CrashStateModel.ChangePoints"/>; for prefix, after each write completes).
/// A write in flight tears at the device's atomic unit: by default the log's sector, since the NBD protocol
/// promises nothing larger; a disk whose 4 KiB writes are atomic (a 4Kn drive, most 512e ones) is modelled
/// with an atomic unit of 4096, so a torn write loses whole, aligned 4 KiB pieces. Recipes still name the
/// log's sectors, so they replay the same whatever unit made them.
/// </summary>
public sealed class CrashStateGenerator
{
    private readonly CrashStateModel _model;
    private readonly int _unitSectors;

    public CrashStateGenerator(CrashStateModel model, int atomicBytes = 0)
    {
        var sector = model.Header.SectorSize;
        atomicBytes = atomicBytes == 0 ? sector : atomicBytes;
        if (atomicBytes < sector || atomicBytes % sector != 0 || !int.IsPow2(atomicBytes / sector) || atomicBytes > 1 << 20)
        {
            throw new ArgumentOutOfRangeException(nameof(atomicBytes), atomicBytes, $"The atomic unit is the log's {sector}-byte sector times a power of two, at most 1 MiB.");
        }

        _model = model;
        _unitSectors = atomicBytes / sector;
    }

    /// <summary>The bytes a torn write loses or keeps together.</summary>
    public int AtomicBytes => _unitSectors * _model.Header.SectorSize;

    /// <summary>At most this many drop combinations at one crash point, so drop=N stays bounded on a busy log.</summary>
    public const int DefaultMaxPerCrashPoint = 100_000;

    /// <summary>Requests touching more sectors than this (a trim of the whole device, say) survive or go whole in random states, so one state's recipe stays small.</summary>
    public const int MaxTornSectors = 1 << 16;

    public IEnumerable<CrashRecipe> Recipes(CrashStrategy strategy, IEnumerable<int>? crashPoints = null) => strategy.Kind switch
    {
        CrashStrategyKind.Prefix => Prefix(crashPoints),
        CrashStrategyKind.Drop => Drop(strategy.N, crashPoints),
        _ => Random(strategy.N, strategy.Seed, crashPoints),
    };

    public IEnumerable<CrashState> States(IEnumerable<CrashRecipe> recipes)
    {
        foreach (var recipe in recipes)
        {
            yield return _model.Build(recipe);
        }
    }

    /// <summary>
    /// One state per crash point: all completed writes survive, durable or not, and every write in flight
    /// (or failed) is lost. It is what a replay of the log up to that point gives, so the least surprising
    /// state, and the one a filesystem must certainly survive.
    /// </summary>
    public IEnumerable<CrashRecipe> Prefix(IEnumerable<int>? crashPoints = null)
    {
        foreach (var crashPoint in crashPoints ?? PrefixPoints())
        {
            var analysis = _model.Analyze(crashPoint);
            var lost = new List<long>(analysis.InFlight.Count);
            foreach (var request in analysis.InFlight)
            {
                lost.Add(request.Id);
            }

            yield return new CrashRecipe(crashPoint, lost);
        }
    }

    /// <summary>
    /// At each crash point, every set of at most <paramref name="maxDropped"/> optional writes lost whole, the
    /// others surviving whole: first the set that loses nothing, then each single write, then each pair, in
    /// ascending order of ids. At most <paramref name="maxPerCrashPoint"/> per point.
    /// </summary>
    public IEnumerable<CrashRecipe> Drop(int maxDropped, IEnumerable<int>? crashPoints = null, int maxPerCrashPoint = DefaultMaxPerCrashPoint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDropped);
        foreach (var crashPoint in crashPoints ?? _model.ChangePoints)
        {
            var optional = _model.Analyze(crashPoint).Optional.Select(r => r.Id).ToArray();
            var made = 0;
            for (var size = 0; size <= Math.Min(maxDropped, optional.Length) && made < maxPerCrashPoint; size++)
            {
                foreach (var combination in Combinations(optional.Length, size))
                {
                    if (made++ == maxPerCrashPoint)
                    {
                        break;
                    }

                    var dropped = new long[size];
                    for (var i = 0; i < size; i++)
                    {
                        dropped[i] = optional[combination[i]];
                    }

                    yield return new CrashRecipe(crashPoint, dropped);
                }
            }
        }
    }

    /// <summary><paramref name="count"/> states, each at a crash point and with a seed of its own drawn from <paramref name="seed"/>; see <see cref="RandomAt"/>.</summary>
    public IEnumerable<CrashRecipe> Random(int count, long seed, IEnumerable<int>? crashPoints = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var points = (crashPoints ?? _model.ChangePoints).ToArray();
        if (points.Length == 0)
        {
            yield break;
        }

        var dice = new CrashDice(seed);
        for (var i = 0; i < count; i++)
        {
            var stateSeed = (long)dice.Next();
            yield return RandomAt(points[dice.Below(points.Length)], stateSeed);
        }
    }

    /// <summary>
    /// The random state for one crash point and seed: each unflushed write survives whole with p = 1/2 (a
    /// completed write reached the cache whole); each atomic unit of each in-flight or failed write survives on
    /// its own with p = 1/2, so those may be torn (up to <see cref="MaxTornSectors"/> sectors; larger ones whole).
    /// </summary>
    public CrashRecipe RandomAt(int crashPoint, long seed)
    {
        var analysis = _model.Analyze(crashPoint);
        var dice = new CrashDice(seed);
        var dropped = new List<long>();
        var torn = new List<TornWrite>();
        foreach (var request in analysis.Unflushed)
        {
            if (dice.Heads())
            {
                dropped.Add(request.Id);
            }
        }

        var lost = new List<int>();
        foreach (var request in analysis.InFlight)
        {
            if (request.Sectors > MaxTornSectors)
            {
                if (dice.Heads())
                {
                    dropped.Add(request.Id);
                }

                continue;
            }

            lost.Clear();
            for (var sector = 0; sector < request.Sectors;)
            {
                // One throw per atomic unit the write touches: the sectors up to the next unit boundary share it.
                var unitEnd = (int)Math.Min(request.Sectors, (((request.FirstSector + sector) / _unitSectors) + 1) * _unitSectors - request.FirstSector);
                var loses = dice.Heads();
                for (; sector < unitEnd; sector++)
                {
                    if (loses)
                    {
                        lost.Add(sector);
                    }
                }
            }

            if (lost.Count == request.Sectors)
            {
                dropped.Add(request.Id);
            }
            else if (lost.Count > 0)
            {
                torn.Add(new TornWrite(request.Id, lost));
            }
        }

        return new CrashRecipe(crashPoint, dropped, torn, seed);
    }

    private List<int> PrefixPoints()
    {
        var points = new List<int> { 0 };
        foreach (var request in _model.Requests)
        {
            if (request.ChangesContent && request.Completed != LoggedRequest.NotCompleted && !request.Failed)
            {
                points.Add(request.Completed + 1);
            }
        }

        points.Sort();
        return points;
    }

    /// <summary>The <paramref name="size"/>-element subsets of 0..n-1 as ascending index arrays, in lexicographic order (the array is reused).</summary>
    private static IEnumerable<int[]> Combinations(int n, int size)
    {
        var indices = new int[size];
        for (var i = 0; i < size; i++)
        {
            indices[i] = i;
        }

        while (true)
        {
            yield return indices;
            var moving = size - 1;
            while (moving >= 0 && indices[moving] == n - size + moving)
            {
                moving--;
            }

            if (moving < 0)
            {
                yield break;
            }

            indices[moving]++;
            for (var i = moving + 1; i < size; i++)
            {
                indices[i] = indices[i - 1] + 1;
            }
        }
    }
}
