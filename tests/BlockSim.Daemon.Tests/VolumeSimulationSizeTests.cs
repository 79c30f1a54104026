using BlockSim.Daemon.Service;
using BlockSim.Storage.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// A simulation setting that cannot fit a volume's size is refused when the daemon starts and reads the
/// volume's header, naming the export, not at the first client's attach.
/// </summary>
public class VolumeSimulationSizeTests
{
    [Fact]
    public void A_profile_the_volume_is_too_small_for_stops_the_start_naming_the_export()
    {
        using var temp = new TempDirectory();
        var options = new DaemonOptions { Simulation = new SimulationSettings { Profile = "aws-gp3", ProvisionedIops = 16_000 } };
        Assert.Empty(options.Problems()); // fine for some size: only this volume's is too small

        var e = Assert.Throws<ConfigurationProblem>(() => ExportCatalog.Open(options, new DataDirectory(temp.File("data")), 16 << 20, NullLogger.Instance).Dispose());
        Assert.Contains("Export 'default' (volume 'default', 16 MiB): simulation.profile aws-gp3: aws-gp3 allows at most 500 IOPS per GiB", e.Message);
    }

    [Fact]
    public void A_profile_that_fits_starts()
    {
        using var temp = new TempDirectory();
        var options = new DaemonOptions { Simulation = new SimulationSettings { Profile = "aws-gp2" } };
        using var catalog = ExportCatalog.Open(options, new DataDirectory(temp.File("data")), 16 << 20, NullLogger.Instance);
        Assert.Single(catalog.Exports);
    }
}
