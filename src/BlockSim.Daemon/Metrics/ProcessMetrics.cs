using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace BlockSim.Daemon.Metrics;

/// <summary>The daemon's memory, observed at each scrape: enough to see that it stays flat under load.</summary>
internal static class ProcessMetrics
{
    public const string MeterName = "BlockSim.Process";

    private static readonly Meter s_meter = new(MeterName);

    /// <summary>Creates the observable instruments once; the exporter reads them at each scrape.</summary>
    public static void Register()
    {
        if (s_registered)
        {
            return;
        }

        s_registered = true;
        s_meter.CreateObservableGauge("blocksim.process.working_set", () => Environment.WorkingSet, "By", "Resident memory of the daemon.");
        s_meter.CreateObservableGauge("blocksim.process.managed_heap", () => GC.GetTotalMemory(forceFullCollection: false), "By", "Bytes in the managed heap.");
        s_meter.CreateObservableCounter("blocksim.process.gc_collections", () => (long)GC.CollectionCount(0), "{collection}", "Generation-0 garbage collections since start.");
        s_meter.CreateObservableGauge("blocksim.process.threads", CountThreads, "{thread}", "Threads in the daemon.");
    }

    private static bool s_registered;

    private static long CountThreads()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }
}
