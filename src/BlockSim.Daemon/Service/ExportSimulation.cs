using BlockSim.Storage;
using BlockSim.Storage.Simulation;
using BlockSim.Storage.Simulation.Faults;

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

    public void Bind(int sectorSize, long capacity) => Control ??= new SimulationControl(seed, sectorSize, capacity);

    /// <summary>The device stack under the encryption: the configured behaviour, then run-time control on top.</summary>
    public IBlockDevice Wrap(IBlockDevice device)
    {
        Bind(device.SectorSize, device.Capacity);
        if (!settings.IsEmpty)
        {
            device = settings.Wrap(device, seed, Layers);
        }

        Attached = true;
        return new ControlledDevice(device, Control!);
    }

    /// <summary>Over the encryption (or over <see cref="Wrap"/>'s stack on an export without it): bit flips on plaintext.</summary>
    public IBlockDevice WrapPlaintext(IBlockDevice device) => new PlaintextFaultDevice(device, Control!);
}
