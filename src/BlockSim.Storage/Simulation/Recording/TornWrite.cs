namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// A write that survives a crash only in part: the sectors listed (counted from the first sector the write
/// touches) are lost, the others are there. Kept sorted and without repeats, so equal pieces compare equal.
/// </summary>
public sealed class TornWrite : IEquatable<TornWrite>
{
    private readonly int[] _lost;

    public TornWrite(long id, IEnumerable<int> lostSectors)
    {
        var lost = new SortedSet<int>(lostSectors);
        if (lost.Count == 0 || lost.Min < 0)
        {
            throw new ArgumentException($"A torn write loses at least one sector, counted from 0; write {id} was given [{string.Join(",", lost)}].", nameof(lostSectors));
        }

        Id = id;
        _lost = [.. lost];
    }

    public long Id { get; }

    public IReadOnlyList<int> LostSectors => _lost;

    public bool Loses(int sector)
    {
        return Array.BinarySearch(_lost, sector) >= 0;
    }

    public bool Equals(TornWrite? other) => other is not null && other.Id == Id && other._lost.AsSpan().SequenceEqual(_lost);

    public override bool Equals(object? obj) => Equals(obj as TornWrite);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Id);
        foreach (var sector in _lost)
        {
            hash.Add(sector);
        }

        return hash.ToHashCode();
    }

    /// <summary>"12:0-2+7": write 12 loses sectors 0, 1, 2 and 7.</summary>
    public override string ToString()
    {
        var text = new System.Text.StringBuilder().Append(Id).Append(':');
        var sectors = _lost;
        for (var i = 0; i < sectors.Length;)
        {
            var end = i;
            while (end + 1 < sectors.Length && sectors[end + 1] == sectors[end] + 1)
            {
                end++;
            }

            text.Append(i == 0 ? "" : "+").Append(sectors[i]);
            if (end > i)
            {
                text.Append('-').Append(sectors[end]);
            }

            i = end + 1;
        }

        return text.ToString();
    }
}
