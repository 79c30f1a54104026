using BlockSim.KeyStore.Sealing;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.Nbd.Exports;
using BlockSim.Storage;
using BlockSim.Storage.Devices;
using BlockSim.Storage.Simulation;
using BlockSim.Storage.Volumes;
using Microsoft.Extensions.Logging;

namespace BlockSim.Daemon.Service;

/// <summary>
/// The exports <c>serve</c> offers, built from <see cref="DaemonOptions"/>: with no exports configured, every
/// volume in the data directory; otherwise exactly the configured ones. The volume <c>default</c> is created
/// only in a new data directory (this run made the key store); later a missing <c>default.vol</c> is an
/// error, never replaced by a blank disk. Every volume is opened and locked here, at start-up, and held
/// until the daemon stops (one that cannot be, because it is damaged, held elsewhere or not writable, stops
/// start-up with a message naming it). Owns the key store (its root key is zeroed on dispose) and the
/// volatile caches a simulated power cut reaches.
/// </summary>
internal sealed class ExportCatalog : IDisposable
{
    /// <summary>The encryption sector of an encrypted memory export: that of a new volume.</summary>
    private const int EphemeralSectorSize = 4096;

    private readonly List<INbdExportInfo> _exports = [];
    private readonly Dictionary<string, ExportSimulation> _simulations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyCollection<string>> _allowedClients = new(StringComparer.Ordinal);
    private SealedKeyStore? _store;
    private CephConnection? _ceph;

    /// <summary>This run made the key store: a new data directory, the only time "default" is created.</summary>
    private bool _storeCreated;

    private ExportCatalog()
    {
    }

    public IReadOnlyList<INbdExportInfo> Exports => _exports;

    /// <summary>Each export's simulation, by export name, for the control API.</summary>
    public IReadOnlyDictionary<string, ExportSimulation> Simulations => _simulations;

    /// <summary>The key store the volumes' keys come from; null when only memory exports are served.</summary>
    public SealedKeyStore? KeyStore => _store;

    public string DefaultExport { get; private set; } = "default";

    /// <summary>Exports only some clients may attach, with those clients' identities.</summary>
    public IReadOnlyDictionary<string, IReadOnlyCollection<string>> AllowedClients => _allowedClients;

    /// <summary>Builds the catalog; what cannot be served is a <see cref="ConfigurationProblem"/> that says what to do.</summary>
    public static ExportCatalog Open(DaemonOptions options, DataDirectory data, long defaultSize, ILogger logger)
    {
        var catalog = new ExportCatalog();
        try
        {
            catalog.Build(options, data, defaultSize, logger);
            return catalog;
        }
        catch
        {
            catalog.Dispose();
            throw;
        }
    }

    /// <summary>The simulated power cut: every volatile cache loses its unflushed writes; returns the sectors lost.</summary>
    public long? PowerCut()
    {
        var caches = _simulations.Values.Select(s => s.Cache).OfType<VolatileCacheDevice>().ToList();
        return caches.Count == 0 ? null : caches.Sum(c => (long)c.PowerCut());
    }

    public async Task FlushAsync()
    {
        foreach (var export in _exports)
        {
            var flush = export switch
            {
                INbdExport served => served.FlushAsync(CancellationToken.None),
                VolumeExport volume => volume.FlushAsync(),
                _ => ValueTask.CompletedTask,
            };
            await flush.ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        foreach (var export in _exports)
        {
            (export as IDisposable)?.Dispose(); // zeroes the volume keys
        }

        _ceph?.Dispose(); // after the exports: their images close first
        _store?.Dispose(); // zeroes the store's root key
    }

    private void Build(DaemonOptions options, DataDirectory data, long defaultSize, ILogger logger)
    {
        KeyStoreVolumeKeys? keys = null;
        var exports = options.Exports;
        if (exports.Count == 0)
        {
            // Every volume there is; "default" is added (and created below) only in a new data directory.
            var names = VolumeNames(data).Order(StringComparer.Ordinal).ToList();
            if (!names.Contains("default"))
            {
                keys = new KeyStoreVolumeKeys(OpenStore(data, options.Audit, logger));
                if (_storeCreated || names.Count == 0)
                {
                    names.Add("default"); // created on the first run; otherwise the error below says what to do
                }
                else
                {
                    DaemonLog.NoDefaultVolume(logger, data.VolumePath("default"), names[0], CreateCommand(options, data, "default", options.DefaultSize));
                }
            }

            exports = names.ToDictionary(name => name, _ => new ExportSettings());
        }

        var served = new Dictionary<string, (string Export, bool ReadOnly)>(StringComparer.Ordinal);
        foreach (var (name, settings) in exports.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            DataDirectory.CheckVolumeName(name);
            if (settings.AllowedClients is { } allowed)
            {
                _allowedClients[name] = allowed.Count > 0
                    ? allowed
                    : throw new ConfigurationProblem($"Export '{name}': allowedClients is empty, so no client could attach it; list identities such as \"CN=alice\" or \"anonymous\", or leave it out to allow every client.");
            }

            var simulation = settings.Simulation ?? options.Simulation;
            if (simulation.Problem($"export '{name}'") is { } problem)
            {
                throw new ConfigurationProblem(problem);
            }

            if (!simulation.IsEmpty)
            {
                DaemonLog.Simulating(logger, name, simulation.ToString());
            }

            var seed = simulation.Seed ?? System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue);
            var control = new ExportSimulation(name, simulation, seed);
            _simulations[name] = control;
            if (settings.Record is { } record)
            {
                control.RecordFromStart = ConfiguredRecording(name, record, settings, Recordings.Folder(options.Control, data.Root));
                DaemonLog.RecordingConfigured(logger, name, Recordings.Paths(control.RecordFromStart.Value.Folder, record, !settings.Memory).Log);
            }

            DaemonLog.SimulationSeed(logger, name, seed);
            Func<IBlockDevice, IBlockDevice> wrap = control.Wrap;
            if (settings.Memory)
            {
                _exports.Add(MemoryExport(name, settings, control, logger));
                continue;
            }

            if (settings.Encrypted == false)
            {
                throw new ConfigurationProblem($"Export '{name}': a volume is always encrypted; \"encrypted\": false is only for memory exports (\"memory\": true).");
            }

            keys ??= new KeyStoreVolumeKeys(OpenStore(data, options.Audit, logger));
            var volumeName = VolumeLocator.CheckName(settings.Volume ?? name);
            var path = VolumeLocator.IsRbd(volumeName) ? null : data.VolumePath(volumeName);
            if (path is not null && !File.Exists(path))
            {
                if (volumeName != "default")
                {
                    throw new ConfigurationProblem($"Export '{name}': there is no volume '{volumeName}' in {data.VolumesPath}. Create it first: {CreateCommand(options, data, volumeName, "10G")}");
                }

                if (!_storeCreated)
                {
                    // Not a first run: a blank disk in place of a deleted or moved file would look to
                    // clients like their data, gone.
                    throw new ConfigurationProblem(
                        $"There is no volume 'default' ({path}). blocksim creates it only in a new data directory, and {data.Root} already holds a key store: if default.vol was there, it has been deleted or moved. "
                        + $"Put it back, or create a new, empty volume deliberately: {CreateCommand(options, data, "default", options.DefaultSize)}");
                }

                Volume.Create(path, defaultSize, keys, owner: DataDirectory.LocalPrincipal);
                DaemonLog.VolumeCreated(logger, path, defaultSize);
            }

            if (served.TryGetValue(volumeName, out var other) && !(other.ReadOnly && settings.ReadOnly))
            {
                throw new ConfigurationProblem($"Exports '{other.Export}' and '{name}' both serve the volume '{volumeName}': a volume is served by one export, or by several that are all read-only (\"readOnly\": true).");
            }

            served[volumeName] = (name, settings.ReadOnly);
            _ceph ??= new CephConnection(options.Ceph.Conf, options.Ceph.Client);
            var export = OpenVolume(name, volumeName, new VolumeLocator(data, _ceph), keys, logger, control, settings, CreateCommand(options, data, volumeName, "10G"));
            try
            {
                control.Settings.CheckFor(export.Header.Capacity, settings.Simulation is null ? "simulation" : $"exports.{name}.simulation");
            }
            catch (ConfigurationProblem e)
            {
                export.Dispose();
                throw new ConfigurationProblem($"Export '{name}' (volume '{volumeName}', {ByteSize.Format(export.Header.Capacity)}): {e.Message}");
            }

            control.Bind(export.Header.SectorSize, export.Header.Capacity);
            control.VolumeHeader = () => export.Header;
            if (export.Size != defaultSize && volumeName == "default")
            {
                DaemonLog.ExistingSizeKept(logger, export.Location, export.Size);
            }

            _exports.Add(export);
        }

        DefaultExport = options.DefaultExport ?? (exports.ContainsKey("default") ? "default" : _exports[0].Name);
        if (!exports.ContainsKey(DefaultExport))
        {
            throw new ConfigurationProblem($"The default export '{DefaultExport}' is not among the exports ({string.Join(", ", exports.Keys)}).");
        }

        if (_store is not null && _store.OpenedWithType == KeySlotTypes.KeyFile)
        {
            DaemonLog.KeyFileWarning(logger, data.KeyFilePath, BlockSim.KeyStore.Sealing.KeyFileUnlocker.DescribeMode(data.KeyFilePath), _store.AuditLogPath);
        }
    }

    /// <summary>A configured recording that can start: a plain name, not taken, on an export whose ciphertext can be read back later.</summary>
    private static (string Folder, string Log) ConfiguredRecording(string name, string log, ExportSettings settings, string folder)
    {
        if (Recordings.NameProblem(log, folder) is { } badName)
        {
            throw new ConfigurationProblem($"Export '{name}': \"record\": {badName}");
        }

        if (settings.Memory && settings.Encrypted == true)
        {
            throw new ConfigurationProblem($"Export '{name}': \"record\" on an encrypted memory export, whose key exists only in this process, would record ciphertext no one could ever read: record a volume, or a memory export without encryption.");
        }

        return Recordings.ExistsProblem(folder, log, volume: !settings.Memory) is { } exists
            ? throw new ConfigurationProblem($"Export '{name}': \"record\": {exists}")
            : (folder, log);
    }

    /// <summary>Opens and locks the volume for the life of the daemon; a failure names the export and the volume.</summary>
    private static VolumeExport OpenVolume(string name, string volumeName, VolumeLocator locator, KeyStoreVolumeKeys keys, ILogger logger, ExportSimulation simulation, ExportSettings settings, string createCommand)
    {
        var which = name == volumeName ? $"volume '{volumeName}'" : $"export '{name}' (volume '{volumeName}')";
        try
        {
            var location = locator.Resolve(volumeName); // an RBD name connects to the cluster here
            if (!location.Exists())
            {
                throw new ConfigurationProblem($"Export '{name}': there is no volume {volumeName}. Create it first: {createCommand}");
            }

            return new VolumeExport(name, location, keys, logger, simulation.Wrap, settings.ReadOnly, settings.Description, simulation.WrapPlaintext, simulation.Settings.Traits);
        }
        catch (VolumeNotWritableException e)
        {
            throw new VolumeException($"Cannot serve {which}: {e.Message} Make it writable (chmod u+w, chattr -i), or serve it read-only: \"readOnly\": true on its export (serve --config).", e);
        }
        catch (VolumeException e)
        {
            throw new VolumeException($"Cannot serve {which}: {e.Message}", e);
        }
    }

    /// <summary>The command that makes the volume where this daemon looks for it: its configuration file, or its data directory.</summary>
    private static string CreateCommand(DaemonOptions options, DataDirectory data, string volume, string size) =>
        $"blocksim volume create {volume} --size {size} {(options.ManagementFlags.Length > 0 ? options.ManagementFlags : $"--data-dir {data.Root}")}";

    private SealedKeyStore OpenStore(DataDirectory data, AuditSettings audit, ILogger logger)
    {
        var auditOptions = audit.ToAuditOptions(); // a bad audit section is refused before anything is created
        _store = data.OpenOrCreateKeyStore(out var created);
        _storeCreated = created;
        _store.ConfigureAudit(auditOptions);
        if (created)
        {
            DaemonLog.KeyStoreCreated(logger, data.KeyStorePath, SealedKeyStore.DefaultAlias);
        }
        else
        {
            _store.RecordOpened(new KeyRequestContext(KeyStoreVolumeKeys.DaemonPrincipal));
            DaemonLog.KeyStoreOpened(logger, _store.Location, _store.OpenedWith);
        }

        foreach (var problem in _store.CheckCopies())
        {
            DaemonLog.KeyStoreCopyProblem(logger, problem);
        }

        return _store;
    }

    private static INbdExport MemoryExport(string name, ExportSettings settings, ExportSimulation simulation, ILogger logger)
    {
        if (settings.Size is null || !ByteSize.TryParse(settings.Size, out var size) || size <= 0 || size % 4096 != 0)
        {
            throw new ConfigurationProblem($"Export '{name}': a memory export needs a size, a positive multiple of 4096 bytes, e.g. \"size\": \"256M\".");
        }

        IBlockDevice device = new MemoryBlockDevice(size, settings.ReadOnly);
        device = simulation.Wrap(device);
        string description;
        if (settings.Encrypted == true)
        {
            // The simulation sits under the encryption, as on a volume: a volatile cache holds ciphertext only.
            device = EncryptedBlockDevice.WithEphemeralKey(device, EphemeralSectorSize);
            simulation.KeyIsEphemeral = true;
            description = "in-memory export (not persistent, encrypted under a key that exists only in this process)";
            DaemonLog.EncryptedMemoryExport(logger, name, size);
        }
        else
        {
            description = "in-memory export (not persistent, not encrypted)";
            DaemonLog.MemoryExport(logger, name, size);
        }

        return new BlockDeviceExport(name, simulation.WrapPlaintext(device), settings.Description ?? description);
    }

    private static IEnumerable<string> VolumeNames(DataDirectory data) => Directory.Exists(data.VolumesPath)
        ? Directory.GetFiles(data.VolumesPath, "*.vol").Select(Path.GetFileNameWithoutExtension).OfType<string>()
        : [];
}
