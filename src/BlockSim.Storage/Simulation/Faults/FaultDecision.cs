namespace BlockSim.Storage.Simulation.Faults;

/// <summary>What the rules decided for one request: nothing, or the first rule that hit it.</summary>
/// <param name="Bit">For a bit flip: which bit of the request's bytes (from the first byte of <paramref name="Sector"/>).</param>
internal readonly record struct FaultDecision(FaultKind? Kind, int Rule, int Errno, int StallMilliseconds, long Sector = 0, long Bit = 0, long ShiftSectors = 0)
{
    public static FaultDecision None => default;

    /// <summary>Flips the chosen bit in <paramref name="bytes"/>, the request's bytes from <paramref name="offset"/>.</summary>
    public void FlipIn(Span<byte> bytes, long offset, int sectorSize)
    {
        var at = (Sector * sectorSize) - offset + (Bit / 8);
        bytes[(int)Math.Max(0, at)] ^= (byte)(1 << (int)(Bit % 8));
    }
}
