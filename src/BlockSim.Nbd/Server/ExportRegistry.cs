using BlockSim.Nbd.Exports;

namespace BlockSim.Nbd.Server;

/// <summary>The exports a server offers, by name; one of them answers to the empty name.</summary>
public sealed class ExportRegistry
{
    private readonly Dictionary<string, INbdExportInfo> _byName = new(StringComparer.Ordinal);
    private readonly List<INbdExportInfo> _ordered = [];
    private readonly Dictionary<string, HashSet<string>> _allowedClients = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _downUntil = new(StringComparer.Ordinal);

    /// <param name="exports">Each one an <see cref="INbdExport"/> or an <see cref="IAttachableExport"/>.</param>
    /// <param name="allowedClients">
    /// For exports that only some clients may attach: the client identities allowed (certificate subjects
    /// such as <c>CN=alice</c>, or <c>anonymous</c>). Exports not named here are open to every client.
    /// </param>
    public ExportRegistry(IEnumerable<INbdExportInfo> exports, string? defaultExport = null, IReadOnlyDictionary<string, IReadOnlyCollection<string>>? allowedClients = null)
    {
        foreach (var export in exports)
        {
            if (export is not (INbdExport or IAttachableExport))
            {
                throw new ArgumentException($"Export '{export.Name}' neither serves itself nor can be attached.", nameof(exports));
            }

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

        foreach (var (name, clients) in allowedClients ?? new Dictionary<string, IReadOnlyCollection<string>>())
        {
            if (!_byName.ContainsKey(name))
            {
                throw new ArgumentException($"Allowed clients are given for '{name}', which is not among the exports.", nameof(allowedClients));
            }

            _allowedClients[name] = new HashSet<string>(clients, StringComparer.Ordinal);
        }
    }

    public string DefaultName { get; }

    public IReadOnlyList<INbdExportInfo> All => _ordered;

    /// <summary>True when <paramref name="client"/> may attach the export (exports without a list are open to all).</summary>
    public bool IsAllowed(string exportName, string client) =>
        !_allowedClients.TryGetValue(exportName, out var allowed) || allowed.Contains(client);

    /// <summary>
    /// Refuses attaches to the export for <paramref name="duration"/> (the simulator's "export down": a
    /// disk gone after a power cut, say); zero brings it back at once.
    /// </summary>
    public void TakeDown(string exportName, TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            _downUntil.TryRemove(exportName, out _);
            return;
        }

        _downUntil[exportName] = Environment.TickCount64 + (long)duration.TotalMilliseconds;
    }

    /// <summary>How long the export stays down; null when it is up.</summary>
    public TimeSpan? DownFor(string exportName)
    {
        if (!_downUntil.TryGetValue(exportName, out var until))
        {
            return null;
        }

        var left = until - Environment.TickCount64;
        if (left > 0)
        {
            return TimeSpan.FromMilliseconds(left);
        }

        _downUntil.TryRemove(KeyValuePair.Create(exportName, until));
        return null;
    }

    /// <summary>Finds an export; the empty name means the default export.</summary>
    public bool TryGet(string name, out INbdExportInfo export) =>
        _byName.TryGetValue(name.Length == 0 ? DefaultName : name, out export!);
}
