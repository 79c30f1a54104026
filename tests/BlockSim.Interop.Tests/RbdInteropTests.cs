using BlockSim.Storage.Rbd.Tests;
using BlockSim.Storage.Rbd.Volumes;
using Xunit.Abstractions;

namespace BlockSim.Interop.Tests;

/// <summary>The real clients through an encrypted volume on an RBD image of a one-node Ceph cluster.</summary>
[Collection(CephCollection.Name)]
public sealed class RbdInteropTests(CephCluster cluster, ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Qemu_img_converts_into_an_rbd_volume_and_compares_equal()
    {
        ExternalTool.Require("qemu-img", "qemu-utils");
        cluster.Require();
        await using var server = Serve("img");
        var source = server.File("source.img");
        ClientInteropTests.WriteRandomImage(source, 64L * 1024 * 1024, dataBytes: 8 * 1024 * 1024);
        Assert.Equal(0, (await Run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source, server.Uri)).ExitCode);
        var (exit, text) = await Run("qemu-img", "compare", "-f", "raw", "-F", "raw", source, server.Uri);
        Assert.Equal(0, exit);
        Assert.Contains("Images are identical", text);
    }

    [SkippableFact]
    public async Task Nbdcopy_round_trip_through_an_rbd_volume()
    {
        ExternalTool.Require("nbdcopy", "libnbd-bin");
        cluster.Require();
        await using var server = Serve("copy");
        var source = server.File("source.img");
        ClientInteropTests.WriteRandomImage(source, 64L * 1024 * 1024, dataBytes: 16 * 1024 * 1024);
        Assert.Equal(0, (await Run("nbdcopy", "-C", "4", "-R", "16", "--flush", source, server.Uri)).ExitCode);
        var back = server.File("back.img");
        Assert.Equal(0, (await Run("nbdcopy", "-C", "4", server.Uri, back)).ExitCode);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(back));
    }

    [SkippableFact]
    public async Task Fio_verifies_random_reads_and_writes_on_an_rbd_volume()
    {
        ExternalTool.Require("fio", "fio");
        cluster.Require();
        await using var server = Serve("fio");
        await ClientInteropTests.FioVerifyAsync(server, Run);
    }

    private InteropServer Serve(string export) =>
        new(export, location: new RbdVolumeLocation(cluster.Pool, $"interop-{export}-{Guid.NewGuid():N}"[..24]));

    private Task<(int ExitCode, string Output)> Run(string program, params string[] arguments) =>
        ExternalTool.RunLoggedAsync(output, program, arguments);
}
