using System.Net;
using System.Text.Json;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;
using BlockSim.Storage.Tests;
using BlockSim.Storage.Volumes;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Daemon.Tests;

public class AttachTests
{
    private static readonly KeyRequestContext s_owner = new("user:owner");

    [Fact]
    public async Task A_disabled_key_refuses_that_export_with_err_policy_and_enabling_it_needs_no_restart()
    {
        using var temp = new TempDirectory();
        using var store = SealedKeyStore.Create(temp.File("store"), KeyFileUnlocker.Create(temp.File("store.key")), s_owner.Principal);
        var keys = new KeyStoreVolumeKeys(store);
        var path = temp.File("v.vol");
        Volume.Create(path, 16 << 20, keys, owner: s_owner.Principal);
        using var volume = new VolumeExport("vol", path, keys, NullLogger.Instance);
        await using var server = new NbdServer(new ExportRegistry([volume, new MemoryExport("mem", 1 << 20)]));
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0)).Port;

        store.DisableKey(SealedKeyStore.DefaultAlias, s_owner);
        var refused = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "vol"));
        Assert.Contains("ErrorPolicy", refused.Message);
        Assert.Contains("DisabledException", refused.Message);
        await using (var other = await Connect(port, "mem"))
        {
            await other.FlushAsync(); // other exports keep working
        }

        store.EnableKey(SealedKeyStore.DefaultAlias, s_owner);
        await using (var client = await Connect(port, "vol"))
        {
            await client.WriteAsync(0, new byte[] { 1, 2, 3 });
            var back = new byte[3];
            await client.ReadAsync(0, back);
            Assert.Equal(new byte[] { 1, 2, 3 }, back);
        }

        var decrypts = File.ReadAllLines(store.AuditLogPath)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("eventName").GetString() == "Decrypt")
            .ToList();
        Assert.Equal(2, decrypts.Count);
        Assert.Equal("DisabledException", decrypts[0].GetProperty("errorCode").GetString());
        Assert.False(decrypts[1].TryGetProperty("errorCode", out _));
        Assert.All(decrypts, d => Assert.Equal("blocksim-daemon", d.GetProperty("invokedBy").GetString()));
        Assert.All(decrypts, d => Assert.Equal("user:owner", d.GetProperty("userIdentity").GetProperty("principal").GetString()));
        Assert.All(decrypts, d => Assert.Equal(volume.Header.VolumeId.ToString(), d.GetProperty("requestParameters").GetProperty("encryptionContext").GetProperty("volumeId").GetString()));
        Assert.Empty(store.VerifyAuditLog().Problems);
    }

    [Fact]
    public async Task The_daemon_grant_covers_only_its_own_volume()
    {
        using var temp = new TempDirectory();
        using var store = SealedKeyStore.Create(temp.File("store"), KeyFileUnlocker.Create(temp.File("store.key")), s_owner.Principal);
        var keys = new KeyStoreVolumeKeys(store);
        Volume.Create(temp.File("a.vol"), 1 << 20, keys, owner: s_owner.Principal);
        var grants = store.ListGrants(SealedKeyStore.DefaultAlias, s_owner);
        var grant = Assert.Single(grants);
        Assert.Equal(KeyStoreVolumeKeys.DaemonPrincipal, grant.Grantee);
        Assert.Equal(["Decrypt"], grant.Operations);
        var (header, _) = Volume.ReadHeader(temp.File("a.vol"));
        Assert.Equal(header.VolumeId.ToString(), grant.EncryptionContextEquals["volumeId"]);
        await Task.CompletedTask;
    }

    private static Task<NbdClient> Connect(int port, string export) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = export });
}

public class VolumeLifecycleTests
{
    [Fact]
    public async Task The_audit_log_tells_the_story_of_a_volume_from_creation_to_cancelled_deletion()
    {
        using var temp = new TempDirectory();
        var owner = new KeyRequestContext("user:owner");
        using var store = SealedKeyStore.Create(temp.File("store"), KeyFileUnlocker.Create(temp.File("store.key")), owner.Principal);
        var keys = new KeyStoreVolumeKeys(store);
        var path = temp.File("v.vol");
        Volume.Create(path, 4 << 20, keys, owner: owner.Principal);           // GenerateDataKeyWithoutPlaintext + CreateGrant
        var data = new byte[4096];
        new Random(3).NextBytes(data);
        using (var volume = Volume.Open(path, keys))                          // attach: Decrypt by the daemon for the owner
        {
            await volume.Device.WriteAsync(0, data);
        }

        store.DisableKey(SealedKeyStore.DefaultAlias, owner);
        Assert.Throws<VolumeKeyException>(() => Volume.Open(path, keys));      // attach refused, audited as denied
        store.EnableKey(SealedKeyStore.DefaultAlias, owner);
        store.RotateKey(SealedKeyStore.DefaultAlias, owner);
        var before = File.ReadAllBytes(path).AsSpan((int)VolumeHeader.DataOffset).ToArray();
        var rewrapped = keys.Rewrap(path, owner);                             // ReEncrypt: the header moves to version 2
        Assert.Equal(2, SealedKeyStore.InspectWrappedKey(rewrapped.WrappedKey).KeyVersion);
        Assert.Equal(before, File.ReadAllBytes(path).AsSpan((int)VolumeHeader.DataOffset).ToArray()); // no data re-encrypted
        using (var volume = Volume.Open(path, keys))
        {
            var back = new byte[4096];
            await volume.Device.ReadAsync(0, back);
            Assert.Equal(data, back);
        }

        store.ScheduleKeyDeletion(SealedKeyStore.DefaultAlias, owner);
        store.CancelKeyDeletion(SealedKeyStore.DefaultAlias, owner);

        var events = File.ReadAllLines(store.AuditLogPath)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Select(e => e.GetProperty("eventName").GetString() + (e.TryGetProperty("errorCode", out var c) ? "!" + c.GetString() : ""))
            .ToArray();
        Assert.Equal(
            [
                "CreateKey", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "Decrypt", "DisableKey", "Decrypt!DisabledException",
                "EnableKey", "RotateKey", "ReEncrypt", "Decrypt", "ScheduleKeyDeletion", "CancelKeyDeletion",
            ],
            events);
        Assert.Empty(store.VerifyAuditLog().Problems);
    }
}
