namespace BlockSim.Storage.Simulation.Faults;

/// <summary>What the rules decided for one request: nothing, or the first rule that hit it.</summary>
/// <param name="Bit">For a bit flip: which bit of the request's bytes (from the first byte of <paramref name="Sector"/>).</param>
internal readonly record struct FaultDecision(FaultKind? Kind, int Rule, int Errno, int StallMilliseconds, long Sector = 0, long Bit = 0, long ShiftSectors = 0)
{
    public static FaultDecision None => default;
}
