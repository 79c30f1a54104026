using System.Net;
using System.Text.Json;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.KeyStore.Sealing;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Exports;
using BlockSim.Nbd.Server;
using BlockSim.Nbd.Tests;
using BlockSim.Nbd.Tls;
using BlockSim.Storage.Tests;
using BlockSim.Storage.Volumes;
using Microsoft.Extensions.Logging.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// Attaching an encrypted volume asks the key store for every client, as the daemon acting for the volume's
/// owner with the client's identity in the request: policies decide per client, and the audit log shows it.
/// </summary>
public sealed class ClientIdentityAttachTests(TlsFixture tls) : IClassFixture<TlsFixture>, IDisposable
{
    private static readonly KeyRequestContext s_admin = new("user:admin");
    private const string Owner = "user:owner";

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Policy_decides_per_client_at_every_attach_and_the_audit_log_names_each_client()
    {
        using var store = SealedKeyStore.Create(_temp.File("store"), KeyFileUnlocker.Create(_temp.File("store.key")), s_admin.Principal);
        var keys = new KeyStoreVolumeKeys(store);
        var path = _temp.File("v.vol");
        store.PutKeyPolicy(SealedKeyStore.DefaultAlias, """
            {"Statement":[
              {"Sid":"Admin","Effect":"Allow","Principal":"user:admin","Action":"*"},
              {"Sid":"OwnerCreatesVolumes","Effect":"Allow","Principal":"user:owner","Action":["GenerateDataKey","CreateGrant"]},
              {"Sid":"OnlyAliceAttaches","Effect":"Deny","Principal":"*","Action":"Decrypt",
               "Condition":{"StringEquals":{"InvokedBy":"blocksim-daemon"},"StringNotEquals":{"ClientIdentity":"CN=alice"}}}
            ]}
            """, s_admin);
        Volume.Create(path, 4 << 20, keys, owner: Owner); // the daemon's grant on this volume comes with it

        using var volume = new VolumeExport("vol", path, keys, NullLogger.Instance);
        await using var server = new NbdServer(new ExportRegistry([volume, new MemoryExport("mem", 1 << 20)]), new NbdServerOptions { Tls = tls.Credentials() });
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), NbdTlsMode.On).Port;

        await using (var alice = await Connect(port, "vol", tls.Client("alice")))
        {
            await alice.WriteAsync(0, new byte[] { 7, 7, 7 });
        }

        var bob = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "vol", tls.Client("bob")));
        Assert.Contains("ErrorPolicy", bob.Message);
        Assert.Contains("AccessDeniedException", bob.Message);
        var anonymous = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "vol", null));
        Assert.Contains("ErrorPolicy", anonymous.Message);
        await using (var bobElsewhere = await Connect(port, "mem", tls.Client("bob")))
        {
            await bobElsewhere.FlushAsync(); // other exports are unaffected
        }

        await using (var aliceAgain = await Connect(port, "vol", tls.Client("alice")))
        {
            var back = new byte[3];
            await aliceAgain.ReadAsync(0, back);
            Assert.Equal(new byte[] { 7, 7, 7 }, back);
        }

        var decrypts = AuditEvents(store, "Decrypt");
        Assert.Equal(
            [("CN=alice", null), ("CN=bob", "AccessDeniedException"), ("anonymous", "AccessDeniedException"), ("CN=alice", null)],
            decrypts.Select(d => (
                d.GetProperty("userIdentity").GetProperty("clientIdentity").GetString(),
                d.TryGetProperty("errorCode", out var error) ? error.GetString() : null)).ToArray());
        Assert.All(decrypts, d =>
        {
            Assert.Equal("blocksim-daemon", d.GetProperty("invokedBy").GetString());
            Assert.Equal(Owner, d.GetProperty("userIdentity").GetProperty("principal").GetString());
            Assert.Equal("127.0.0.1", d.GetProperty("sourceAddress").GetString());
            Assert.Equal(volume.Header.VolumeId.ToString(), d.GetProperty("requestParameters").GetProperty("encryptionContext").GetProperty("volumeId").GetString());
        });
        Assert.Empty(store.VerifyAuditLog().Problems);
    }

    [Fact]
    public async Task A_grant_for_named_clients_lets_only_them_attach()
    {
        using var store = SealedKeyStore.Create(_temp.File("store"), KeyFileUnlocker.Create(_temp.File("store.key")), s_admin.Principal);
        var keys = new KeyStoreVolumeKeys(store);
        var path = _temp.File("g.vol");
        Volume.Create(path, 4 << 20, keys, owner: s_admin.Principal);
        var (header, _) = Volume.ReadHeader(path);
        var automatic = Assert.Single(store.ListGrants(SealedKeyStore.DefaultAlias, s_admin));
        store.RetireGrant(automatic.GrantId, s_admin);
        store.CreateGrant(SealedKeyStore.DefaultAlias, KeyStoreVolumeKeys.DaemonPrincipal, ["Decrypt"], new Dictionary<string, string> { ["volumeId"] = header.VolumeId.ToString() }, s_admin, clients: ["CN=bob"]);

        // The administrator owns the volume, but the policy no longer covers what the daemon does for it: the grant decides.
        store.PutKeyPolicy(SealedKeyStore.DefaultAlias, """
            {"Statement":[{"Sid":"Admin","Effect":"Allow","Principal":"user:admin","Action":"*",
                           "Condition":{"StringNotEquals":{"InvokedBy":"blocksim-daemon"}}}]}
            """, s_admin);

        using var volume = new VolumeExport("vol", path, keys, NullLogger.Instance);
        await using var server = new NbdServer(new ExportRegistry([volume]), new NbdServerOptions { Tls = tls.Credentials() });
        var port = server.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), NbdTlsMode.Require).Port;

        var alice = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "vol", tls.Client("alice")));
        Assert.Contains("AccessDeniedException", alice.Message);
        await using var bob = await Connect(port, "vol", tls.Client("bob"));
        await bob.FlushAsync();
    }

    private static List<JsonElement> AuditEvents(SealedKeyStore store, string name) =>
        File.ReadAllLines(store.AuditLogPath)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("eventName").GetString() == name)
            .ToList();

    private static Task<NbdClient> Connect(int port, string export, System.Net.Security.SslClientAuthenticationOptions? options) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = export, Tls = options });
}
