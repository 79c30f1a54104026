namespace BlockSim.Fuzz;

/// <summary>
/// One parser or state machine that reads untrusted bytes. <see cref="Run"/> feeds it one input and checks
/// the invariants, not only that nothing crashed: an exception that escapes is a finding (AFL++ records the
/// input as a crash); an input the code refuses the way it should returns normally.
/// </summary>
internal interface IFuzzTarget
{
    /// <summary>The name the run script and the corpus folder use (fuzz/corpus/NAME).</summary>
    string Name { get; }

    /// <summary>What the target reads and what it checks, for <c>blocksim-fuzz list</c>.</summary>
    string Description { get; }

    void Run(ReadOnlySpan<byte> input);

    /// <summary>Valid inputs made by the code itself, for <c>blocksim-fuzz seed</c> (the start of fuzz/corpus/NAME).</summary>
    IEnumerable<(string Name, byte[] Input)> Seeds();
}

/// <summary>An invariant that did not hold: the input is a finding even though nothing threw by itself.</summary>
internal sealed class FuzzFinding(string message) : Exception(message);
