using System.Reflection;
using System.Text;

namespace BlockSim.Fuzz.Targets;

/// <summary>
/// A JSON target fed through <see cref="JsonShaper"/>: the input is a string of choices, shaped into a
/// document from the keys and values of the target's AFL++ dictionary (fuzz/dict, built into this program),
/// and the document goes to the JSON target, whose checks decide. Its seeds are the JSON target's seeds,
/// encoded as choices.
/// </summary>
internal sealed class ShapedJsonTarget(IFuzzTarget json, string dictionary) : IFuzzTarget
{
    private readonly JsonShaper _shaper = JsonShaper.FromAflDictionary(ReadDictionary(dictionary));

    public string Name => json.Name + "-shaped";

    public string Description => $"{json.Name}, its JSON shaped from choices (keys and values of {dictionary})";

    /// <summary>The document an input stands for: what a finding's input is, to a person.</summary>
    public string Shape(ReadOnlySpan<byte> input) => _shaper.Shape(input);

    public void Run(ReadOnlySpan<byte> input) => json.Run(Encoding.UTF8.GetBytes(_shaper.Shape(input)));

    public IEnumerable<(string Name, byte[] Input)> Seeds() =>
        json.Seeds().Select(seed => (seed.Name, _shaper.Encode(Encoding.UTF8.GetString(seed.Input))));

    private static string ReadDictionary(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The dictionary {name} is not built into {Assembly.GetExecutingAssembly().GetName().Name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
