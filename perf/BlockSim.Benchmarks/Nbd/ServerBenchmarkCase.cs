using BenchmarkDotNet.Attributes;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;

namespace BlockSim.Benchmarks.Nbd;

/// <summary>
/// What the whole-server benchmarks vary: the request size, a plain or encrypted memory export, and
/// whether the daemon's metrics exporter listens. Each subclass brings a transport.
/// </summary>
public abstract class ServerBenchmarkCase
{
    private IDisposable? _metrics;

    [Params(4096, 131072)]
    public int Size { get; set; }

    [Params(false, true)]
    public bool Encrypted { get; set; }

    /// <summary>With the daemon's Prometheus exporter listening to the server's instruments.</summary>
    [Params(false, true)]
    public bool Metrics { get; set; }

    /// <summary>A server with one 1 GiB memory export, "bench" (and the metrics exporter, when asked for).</summary>
    protected NbdServer CreateServer()
    {
        _metrics = Metrics ? new BlockSim.Daemon.Metrics.PrometheusExporter() : null;
        return new NbdServer(new ExportRegistry([new BlockDeviceExport("bench", BenchmarkDevices.Memory(1L << 30, Encrypted))]));
    }

    protected void StopMetrics() => _metrics?.Dispose();
}
