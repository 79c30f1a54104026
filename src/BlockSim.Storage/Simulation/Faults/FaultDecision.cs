namespace BlockSim.Storage.Simulation.Faults;

/// <summary>What the rules decided for one request: nothing, or the first rule that hit it.</summary>
internal readonly record struct FaultDecision(FaultKind? Kind, int Rule, int Errno, int StallMilliseconds)
{
    public static FaultDecision None => default;
}
