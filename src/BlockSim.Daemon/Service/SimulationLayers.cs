using BlockSim.Storage.Simulation;
using BlockSim.Storage.Simulation.Latency;
using BlockSim.Storage.Simulation.Profiles;

namespace BlockSim.Daemon.Service;

/// <summary>The configured simulation layers of one export's device, once it exists: what the control API can change at run time.</summary>
internal sealed class SimulationLayers
{
    public VolatileCacheDevice? Cache { get; set; }

    public ThrottleDevice? Throttle { get; set; }

    public ProfileDevice? Profile { get; set; }

    public QueuedLatencyDevice? Queue { get; set; }

    public HddDevice? Hdd { get; set; }

    public SsdDevice? Ssd { get; set; }

    public LatencyDevice? Latency { get; set; }

    public FaultInjectionDevice? Faults { get; set; }
}
