using System.Net;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Server;
using BlockSim.Storage.Tests;
using BlockSim.Storage.Volumes;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// What an unauthenticated client can read (LIST descriptions, refusal messages) says nothing about the
/// server: no volume or key ids, no file paths, no process id. The detail stays in the server log.
/// </summary>
public sealed class ClientFacingTextTests : IDisposable
{
    private static readonly KeyRequestContext s_owner = new("user:owner");
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task List_descriptions_hold_no_volume_or_key_ids()
    {
        using var store = SealedKeyStore.Create(_temp.File("store"), KeyFileUnlocker.Create(_temp.File("store.key")), s_owner.Principal);
        var keys = new KeyStoreVolumeKeys(store);
        Volume.Create(_temp.File("v.vol"), 4 << 20, keys, owner: s_owner.Principal);
        using var volume = new VolumeExport("vol", _temp.File("v.vol"), keys, NullLogger.Instance);
        await using var server = new NbdServer(new ExportRegistry([volume]));
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;

        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var (name, description) = Assert.Single(await NbdClient.ListAsync(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true)));
        Assert.Equal("vol", name);
        Assert.StartsWith("encrypted volume", description);
        Assert.DoesNotContain(volume.Header.VolumeId.ToString(), description, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(volume.Header.KeyId, description, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Refusals_name_the_kind_of_refusal_but_no_ids_paths_or_process_id()
    {
        using var store = SealedKeyStore.Create(_temp.File("store"), KeyFileUnlocker.Create(_temp.File("store.key")), s_owner.Principal);
        var keys = new KeyStoreVolumeKeys(store);
        Volume.Create(_temp.File("v.vol"), 4 << 20, keys, owner: s_owner.Principal);
        using var volume = new VolumeExport("vol", _temp.File("v.vol"), keys, NullLogger.Instance);
        await using var server = new NbdServer(new ExportRegistry([volume]));
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;

        store.DisableKey(SealedKeyStore.DefaultAlias, s_owner);
        var disabled = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "vol"));
        Assert.Contains("ErrorPolicy", disabled.Message);
        Assert.Contains("DisabledException", disabled.Message);
        AssertTellsNothingOfTheServer(disabled.Message, volume.Header);
    }

    private void AssertTellsNothingOfTheServer(string message, VolumeHeader header)
    {
        Assert.DoesNotContain(_temp.Path, message);
        Assert.DoesNotContain(".vol", message);
        Assert.DoesNotContain($" {Environment.ProcessId}", message);
        Assert.DoesNotContain(header.KeyId, message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(header.VolumeId.ToString(), message, StringComparison.OrdinalIgnoreCase);
    }

    private static Task<NbdClient> Connect(int port, string export) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = export });
}
