using BlockSim.Nbd.Exports;

namespace BlockSim.Nbd.Server;

/// <summary>The exports a server offers, by name; one of them answers to the empty name.</summary>
public sealed class ExportRegistry
{
    private readonly Dictionary<string, INbdExport> _byName = new(StringComparer.Ordinal);
    private readonly List<INbdExport> _ordered = [];

    public ExportRegistry(IEnumerable<INbdExport> exports, string? defaultExport = null)
    {
        foreach (var export in exports)
        {
            if (!_byName.TryAdd(export.Name, export))
            {
                throw new ArgumentException($"Two exports are named '{export.Name}'; export names must be unique.", nameof(exports));
            }

            _ordered.Add(export);
        }

        if (_ordered.Count == 0)
        {
            throw new ArgumentException("A server needs at least one export.", nameof(exports));
        }

        DefaultName = defaultExport ?? _ordered[0].Name;
        if (!_byName.ContainsKey(DefaultName))
        {
            throw new ArgumentException($"The default export '{DefaultName}' is not among the exports.", nameof(defaultExport));
        }
    }

    public string DefaultName { get; }

    public IReadOnlyList<INbdExport> All => _ordered;

    /// <summary>Finds an export; the empty name means the default export.</summary>
    public bool TryGet(string name, out INbdExport export) =>
        _byName.TryGetValue(name.Length == 0 ? DefaultName : name, out export!);
}
