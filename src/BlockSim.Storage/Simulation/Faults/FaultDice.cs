namespace BlockSim.Storage.Simulation.Faults;

/// <summary>
/// The export's reproducible randomness: every decision is a function of (seed, rule, operation, sector,
/// how many times that operation has reached that sector before), never of a shared generator, so two runs
/// of the same workload inject the same faults however connections interleave.
/// </summary>
public static class FaultDice
{
    /// <summary>A number in [0, 1) for this decision.</summary>
    public static double Roll(long seed, int rule, FaultOperations operation, long sector, long access)
    {
        var h = Mix((ulong)seed);
        h = Mix(h ^ (uint)rule);
        h = Mix(h ^ (ulong)operation);
        h = Mix(h ^ (ulong)sector);
        h = Mix(h ^ (ulong)access);
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    // SplitMix64's finaliser: every input bit moves every output bit.
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
