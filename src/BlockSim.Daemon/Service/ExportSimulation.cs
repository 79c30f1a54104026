using BlockSim.Storage;
using BlockSim.Storage.Simulation;
using BlockSim.Storage.Simulation.Faults;
using BlockSim.Storage.Volumes;

namespace BlockSim.Daemon.Service;

/// <summary>
/// One export's simulation as the control API sees it: its seed and run-time control (fault rules, pause,
/// events), its configured behaviour, and its volatile cache for a power cut. A volume's device is made
/// only when the first client attaches, so the control exists from start-up and the device joins it then.
/// </summary>
internal sealed class ExportSimulation(string name, SimulationSettings settings, long seed)
{
    public string Name => name;

    public SimulationSettings Settings => settings;

    public long Seed => seed;

    /// <summary>Set as soon as the export's sector size and capacity are known (start-up).</summary>
    public SimulationControl? Control { get; private set; }

    /// <summary>The configured layers, once the export's device exists.</summary>
    public SimulationLayers Layers { get; } = new();

    /// <summary>Whether the export's device exists (a volume's is made when the first client attaches).</summary>
    public bool Attached { get; private set; }

    /// <summary>The export's volatile cache, once its device exists; null without one.</summary>
    public VolatileCacheDevice? Cache => Layers.Cache;

    /// <summary>Where a recording goes in the export's stack, once its device exists.</summary>
    public RecordingSlot? Recording { get; private set; }

    /// <summary>
    /// What a recording of this export starts from: its volume file's header (the base is then a volume file
    /// of its own), or null for a memory export (a raw image). Set by the catalog.
    /// </summary>
    public Func<VolumeHeader>? VolumeHeader { get; set; }

    /// <summary>An encrypted memory export's key dies with the process: nothing recorded from it could ever be read.</summary>
    public bool KeyIsEphemeral { get; set; }

    /// <summary>A recording to start as soon as the device exists (<c>"record"</c> in the configuration): its folder and log name.</summary>
    public (string Folder, string Log)? RecordFromStart { get; set; }

    public void Bind(int sectorSize, long capacity) => Control ??= new SimulationControl(seed, sectorSize, capacity);

    /// <summary>The device stack under the encryption: the configured behaviour, the recording slot, then run-time control on top.</summary>
    public IBlockDevice Wrap(IBlockDevice device)
    {
        Bind(device.SectorSize, device.Capacity);
        if (!settings.IsEmpty)
        {
            device = settings.Wrap(device, seed, Layers);
            if (Layers.Profile is { } profile)
            {
                Metrics.ProfileMetrics.Track(name, profile);
            }
        }

        Recording = new RecordingSlot(device);
        Attached = true;
        if (RecordFromStart is { } record)
        {
            StartConfiguredRecording(record.Folder, record.Log);
        }

        return new ControlledDevice(Recording, Control!);
    }

    // No request can be in flight: the device is only now being made. Blocking here happens once per export,
    // at start-up or inside the first attach, which waits for its volume to open anyway.
    private void StartConfiguredRecording(string folder, string log)
    {
        try
        {
            Recordings.BeginAsync(this, folder, log, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Export '{name}': the recording its configuration asks for (\"record\": \"{log}\") could not start: {e.Message}", e);
        }
    }

    /// <summary>Over the encryption (or over <see cref="Wrap"/>'s stack on an export without it): bit flips on plaintext.</summary>
    public IBlockDevice WrapPlaintext(IBlockDevice device) => new PlaintextFaultDevice(device, Control!);
}
