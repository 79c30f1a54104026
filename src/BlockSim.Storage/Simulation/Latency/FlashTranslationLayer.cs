namespace BlockSim.Storage.Simulation.Latency;

/// <summary>
/// A page-mapped flash translation layer with greedy garbage collection: what makes an SSD slow down as it
/// fills. Logical pages map to physical ones; a write goes to the next free page of the open erase block and
/// leaves the page it replaces invalid; when free blocks run low, the closed block with the fewest valid pages
/// is the victim: its valid pages are written again (the write amplification) and it is erased. The physical
/// space exceeds the logical by the over-provisioning; TRIM makes pages invalid without a write, so the
/// victims hold less. Counts only: the data itself lives in the device below. Not thread-safe: the caller locks.
/// </summary>
public sealed class FlashTranslationLayer
{
    private const int Unmapped = -1;
    private const int FreeBlocksKept = 2; // one to write into, one for the collector's own writes
    private readonly int[] _logicalToPhysical;
    private readonly int[] _physicalToLogical;
    private readonly int[] _valid;       // valid pages per block
    private readonly BlockState[] _state;
    private readonly Stack<int> _free = new();
    private int _open;
    private int _nextPage;               // within the open block

    public FlashTranslationLayer(long logicalPages, int pagesPerBlock, double overProvisioning)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(logicalPages, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(logicalPages, 1L << 26); // 64 Mi pages: 256 MiB of maps at 4 bytes each, both ways
        ArgumentOutOfRangeException.ThrowIfLessThan(pagesPerBlock, 2);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(overProvisioning, 0);
        PagesPerBlock = pagesPerBlock;
        LogicalPages = (int)logicalPages;
        Blocks = (int)Math.Ceiling(logicalPages * (1 + overProvisioning) / pagesPerBlock) + FreeBlocksKept;
        _logicalToPhysical = new int[LogicalPages];
        Array.Fill(_logicalToPhysical, Unmapped);
        _physicalToLogical = new int[Blocks * pagesPerBlock];
        Array.Fill(_physicalToLogical, Unmapped);
        _valid = new int[Blocks];
        _state = new BlockState[Blocks];
        for (var block = Blocks - 1; block > 0; block--)
        {
            _free.Push(block);
        }

        _open = 0;
        _state[0] = BlockState.Open;
    }

    public int PagesPerBlock { get; }

    public int LogicalPages { get; }

    public int Blocks { get; }

    public long HostWrites { get; private set; }

    public long CollectorWrites { get; private set; }

    public long Erases { get; private set; }

    /// <summary>Pages written to flash for each page the host wrote (1 until the collector has to move pages).</summary>
    public double WriteAmplification => HostWrites == 0 ? 1 : (HostWrites + CollectorWrites) / (double)HostWrites;

    /// <summary>Writes logical page <paramref name="page"/>; returns the pages the collector moved and the blocks it erased to make room.</summary>
    public (int Moved, int Erased) Write(int page)
    {
        var before = (CollectorWrites, Erases);
        Invalidate(page);
        Place(page);
        HostWrites++;
        return ((int)(CollectorWrites - before.CollectorWrites), (int)(Erases - before.Erases));
    }

    /// <summary>TRIM of one logical page: it holds nothing any more, so no collector has to move it.</summary>
    public void Trim(int page) => Invalidate(page);

    /// <summary>
    /// The write amplification greedy collection settles at under uniformly random page writes, for large
    /// blocks (Desnoyers, "Analytic models of SSD write performance", 2012): A = a / (a + W0(-a e^-a)), with
    /// a = physical / logical = 1 + over-provisioning and W0 the Lambert W function's principal branch.
    /// </summary>
    public static double GreedyWriteAmplification(double overProvisioning)
    {
        var a = 1 + overProvisioning;
        var x = -a * Math.Exp(-a);
        var w = -0.5; // Newton on w e^w = x, from inside the principal branch's range (-1, 0)
        for (var i = 0; i < 100; i++)
        {
            var f = (w * Math.Exp(w)) - x;
            w -= f / (Math.Exp(w) * (w + 1));
            w = Math.Max(w, -1 + 1e-12);
        }

        return a / (a + w);
    }

    private void Invalidate(int page)
    {
        var physical = _logicalToPhysical[page];
        if (physical != Unmapped)
        {
            _physicalToLogical[physical] = Unmapped;
            _valid[physical / PagesPerBlock]--;
            _logicalToPhysical[page] = Unmapped;
        }
    }

    private void Place(int page)
    {
        if (_nextPage == PagesPerBlock)
        {
            Close(_open); // full: a candidate victim from now on
            while (_free.Count < FreeBlocksKept)
            {
                Collect();
            }

            // The collector may have opened a block of its own and left room in it: the host writes there next.
            if (_nextPage == PagesPerBlock)
            {
                OpenNext();
            }
        }

        Append(page);
    }

    /// <summary>Writes <paramref name="page"/> into the open block's next page; the open block has room.</summary>
    private void Append(int page)
    {
        var physical = (_open * PagesPerBlock) + _nextPage++;
        _physicalToLogical[physical] = page;
        _logicalToPhysical[page] = physical;
        _valid[_open]++;
    }

    private void Close(int block)
    {
        if (_state[block] == BlockState.Open)
        {
            _state[block] = BlockState.Closed;
        }
    }

    /// <summary>Closes the open block (unless it is being collected, or already free) and opens a free one.</summary>
    private void OpenNext()
    {
        Close(_open);
        _open = _free.Pop();
        _state[_open] = BlockState.Open;
        _nextPage = 0;
    }

    /// <summary>Greedy: the closed block with the fewest valid pages; its pages go to the open block (or the next free one), then it is erased.</summary>
    private void Collect()
    {
        var victim = -1;
        for (var block = 0; block < Blocks; block++)
        {
            if (_state[block] == BlockState.Closed && (victim < 0 || _valid[block] < _valid[victim]))
            {
                victim = block;
            }
        }

        _state[victim] = BlockState.Collecting;
        for (var physical = victim * PagesPerBlock; physical < (victim + 1) * PagesPerBlock; physical++)
        {
            var page = _physicalToLogical[physical];
            if (page == Unmapped)
            {
                continue;
            }

            _physicalToLogical[physical] = Unmapped;
            _valid[victim]--;
            if (_nextPage == PagesPerBlock)
            {
                // A victim holds fewer valid pages than a block, so this takes at most one free block, and
                // the victim gives one back: there is always one to take (see Place).
                OpenNext();
            }

            Append(page);
            CollectorWrites++;
        }

        _state[victim] = BlockState.Free;
        _free.Push(victim);
        Erases++;
    }

    private enum BlockState : byte
    {
        Free,
        Open,
        Closed,
        Collecting,
    }
}
