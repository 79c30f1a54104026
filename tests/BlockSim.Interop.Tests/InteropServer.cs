using System.Net;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;
using BlockSim.Nbd.Tls;
using BlockSim.Storage.Tests;
using BlockSim.Storage.Volumes;
using BlockSim.Storage.Volumes.Media;

namespace BlockSim.Interop.Tests;

/// <summary>
/// A server on a free loopback port for one test, serving a fresh encrypted volume (file-backed, as the
/// daemon does by default, or at <c>location</c>, e.g. an RBD image) plus a small in-memory export, and a
/// scratch folder.
/// </summary>
public sealed class InteropServer : IAsyncDisposable
{
    public InteropServer(string exportName, long size = 64L * 1024 * 1024, NbdTlsMode tls = NbdTlsMode.Off, TlsCredentials? credentials = null, VolumeLocation? location = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("blocksim-interop-").FullName;
        var keys = TestKeyProvider.OpenOrCreate(File("dev.key"));
        VolumePath = File(exportName + ".vol");
        location ??= new FileVolumeLocation(VolumePath);
        Volume.Create(location, size, keys);
        Volume = Volume.Open(location, keys);
        Export = new BlockDeviceExport(exportName, Volume.Device, $"interop export {exportName}");
        Server = new NbdServer(new ExportRegistry([Export, new MemoryExport("other", 1 << 20)]), new NbdServerOptions { Tls = credentials });
        Port = Server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), tls).Port;
    }

    public Volume Volume { get; }

    public string VolumePath { get; }

    public BlockDeviceExport Export { get; }

    public NbdServer Server { get; }

    public int Port { get; }

    public string Directory { get; }

    public string Uri => $"nbd://127.0.0.1:{Port}/{Export.Name}";

    public string File(string name) => Path.Combine(Directory, name);

    /// <summary>Stops serving and closes the volume (releasing its lock), then returns the raw file.</summary>
    public async Task<byte[]> StopAndReadVolumeFileAsync()
    {
        await Server.StopAsync();
        Volume.Dispose();
        return await System.IO.File.ReadAllBytesAsync(VolumePath);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Volume.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
