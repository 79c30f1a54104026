namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// SplitMix64: a tiny generator whose sequence for a seed is fixed here, not by the runtime's
/// <see cref="System.Random"/>, whose algorithm may change between versions; a recipe's seed must give the
/// same state in every build.
/// </summary>
internal struct CrashDice(long seed)
{
    private ulong _state = (ulong)seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public bool Heads() => (Next() >> 63) != 0;

    /// <summary>A number in [0, bound); the slight bias of the modulo is irrelevant for picking crash points.</summary>
    public int Below(int bound) => (int)(Next() % (ulong)bound);
}
