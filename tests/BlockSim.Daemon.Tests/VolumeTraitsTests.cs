using BlockSim.Daemon.Service;
using BlockSim.Daemon.Volumes;
using BlockSim.Nbd.Exports;
using BlockSim.Storage.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// A volume is opened only at its first attach, but a client may ask INFO before that (nbdinfo asks nothing
/// else): what INFO tells of the device stack must be what GO will.
/// </summary>
public class VolumeTraitsTests
{
    [Theory]
    [InlineData(null, false, true)]
    [InlineData("default", true, false)]
    public async Task Info_before_the_first_attach_says_what_the_attached_stack_says(string? hdd, bool rotational, bool trims)
    {
        using var temp = new TempDirectory();
        var options = new DaemonOptions { Simulation = new SimulationSettings { Hdd = hdd } };
        using var catalog = ExportCatalog.Open(options, new DataDirectory(temp.File("data")), 16 << 20, NullLogger.Instance);
        var volume = Assert.IsType<VolumeExport>(Assert.Single(catalog.Exports));
        Assert.Null(volume.Device); // not attached yet
        var before = (volume.IsRotational, volume.CanTrim, volume.CanFastZero);
        Assert.Equal((rotational, trims, trims), before);

        var attached = await volume.AttachAsync(new NbdClientIdentity(NbdClientIdentity.Anonymous, "test", Tls: false, 1), CancellationToken.None);
        var served = Assert.IsAssignableFrom<INbdExport>(attached.Served);
        Assert.Equal(before, (served.IsRotational, served.CanTrim, served.CanFastZero));
        Assert.Equal(before, (volume.IsRotational, volume.CanTrim, volume.CanFastZero));
    }
}
