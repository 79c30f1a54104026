namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// What a crash at one point may leave of each request that changes content: <see cref="Durable"/> ones are
/// there for sure (unless a later write to the same sectors replaced them); <see cref="Unflushed"/> and
/// <see cref="InFlight"/> ones may or may not be, and may be there in part, sector by sector. Each list is in
/// id order.
/// </summary>
public sealed class CrashPointAnalysis(int crashPoint, IReadOnlyList<LoggedRequest> durable, IReadOnlyList<LoggedRequest> unflushed, IReadOnlyList<LoggedRequest> inFlight)
{
    /// <summary>The crash happens after this many records.</summary>
    public int CrashPoint { get; } = crashPoint;

    /// <summary>Completed FUA writes, and completed writes a completed flush covers.</summary>
    public IReadOnlyList<LoggedRequest> Durable { get; } = durable;

    /// <summary>Completed, and no completed flush covers them.</summary>
    public IReadOnlyList<LoggedRequest> Unflushed { get; } = unflushed;

    /// <summary>Submitted and not completed before the crash, or failed.</summary>
    public IReadOnlyList<LoggedRequest> InFlight { get; } = inFlight;

    /// <summary>Everything a legal state may drop or tear: <see cref="Unflushed"/> and <see cref="InFlight"/>, in id order.</summary>
    public IEnumerable<LoggedRequest> Optional => Merge(Unflushed, InFlight);

    public bool IsOptional(long id) => Contains(Unflushed, id) || Contains(InFlight, id);

    private static bool Contains(IReadOnlyList<LoggedRequest> requests, long id)
    {
        int low = 0, high = requests.Count - 1;
        while (low <= high)
        {
            var middle = (low + high) >>> 1;
            var at = requests[middle].Id;
            if (at == id)
            {
                return true;
            }

            (low, high) = at < id ? (middle + 1, high) : (low, middle - 1);
        }

        return false;
    }

    private static IEnumerable<LoggedRequest> Merge(IReadOnlyList<LoggedRequest> a, IReadOnlyList<LoggedRequest> b)
    {
        int i = 0, j = 0;
        while (i < a.Count || j < b.Count)
        {
            yield return j >= b.Count || (i < a.Count && a[i].Id < b[j].Id) ? a[i++] : b[j++];
        }
    }
}
