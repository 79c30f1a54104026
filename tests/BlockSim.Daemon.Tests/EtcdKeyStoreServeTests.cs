using System.Text.Json;
using BlockSim.KeyStore.Tests;
using BlockSim.Nbd.Client;
using BlockSim.Nbd.Tests;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// One key store for a fleet, through the real blocksim executable: made once with keystore init in etcd,
/// used by commands and by daemons on separate data directories (separate hosts), a key disabled by one
/// process refused at the next attach by every daemon, and attaches failing closed while etcd is down.
/// </summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdKeyStoreServeTests(EtcdCluster etcd, ITestOutputHelper log)
{
    [SkippableFact]
    public async Task Keystore_init_makes_one_store_in_etcd_that_commands_on_any_data_directory_use()
    {
        etcd.Require();
        using var temp = new TempDirectory();
        var store = etcd.NewStoreAddress();
        var keyFile = temp.File("fleet.key");

        var init = await Cli.RunAsync(temp.Path, "keystore", "init", "--key-store", store, "--key-file", keyFile);
        Assert.True(init.Exit == 0, init.Output);
        Assert.Contains($"Created the key store in {store}", init.Output);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));

        var again = await Cli.RunAsync(temp.Path, "keystore", "init", "--key-store", store, "--key-file", temp.File("other.key"));
        Assert.Equal(2, again.Exit);
        Assert.Contains("already holds a key store", again.Output);
        Assert.False(File.Exists(temp.File("other.key")));
        var overKeyFile = await Cli.RunAsync(temp.Path, "keystore", "init", "--key-store", etcd.NewStoreAddress(), "--key-file", keyFile);
        Assert.Equal(2, overKeyFile.Exit);
        Assert.Contains("never overwritten", overKeyFile.Output);

        // Two "hosts" (data directories) see one store: a key made on one is listed on the other.
        var made = await Cli.RunAsync(temp.Path, "key", "create", "--alias", "alias/db", "--description", "db", "--data-dir", temp.File("host-a"), "--key-store", store, "--key-file", keyFile);
        Assert.True(made.Exit == 0, made.Output);
        var listed = await Cli.RunAsync(temp.Path, "--json", "key", "list", "--data-dir", temp.File("host-b"), "--key-store", store, "--key-file", keyFile);
        Assert.True(listed.Exit == 0, listed.Output);
        Assert.Contains("alias/db", listed.Output);
        var verified = await Cli.RunAsync(temp.Path, "audit", "verify", "--data-dir", temp.File("host-b"), "--key-store", store, "--key-file", keyFile);
        Assert.True(verified.Exit == 0, verified.Output);

        // The oldest records archived into a segment of their own: the chain still verifies across it.
        var archived = await Cli.RunAsync(temp.Path, "audit", "archive", "--keep", "1", "--data-dir", temp.File("host-b"), "--key-store", store, "--key-file", keyFile);
        Assert.True(archived.Exit == 0, archived.Output);
        Assert.Contains("/audit/segments/", archived.Output);
        var acrossSegments = await Cli.RunAsync(temp.Path, "audit", "verify", "--data-dir", temp.File("host-b"), "--key-store", store, "--key-file", keyFile);
        Assert.True(acrossSegments.Exit == 0, acrossSegments.Output);

        // Clear errors: nobody answering (exit 5), a malformed address (2), a prefix with no store (3).
        var down = await Cli.RunAsync(temp.Path, "key", "list", "--key-store", "etcd://127.0.0.1:9/nothing", "--key-file", keyFile);
        Assert.Equal(5, down.Exit);
        Assert.Contains("DependencyTimeoutException", down.Output);
        Assert.Contains("could not be reached", down.Output);
        var malformed = await Cli.RunAsync(temp.Path, "key", "list", "--key-store", "etcd://127.0.0.1:2379", "--key-file", keyFile);
        Assert.Equal(2, malformed.Exit);
        Assert.Contains("etcd://HOST:PORT[,HOST:PORT...]/PREFIX", malformed.Output);
        var none = await Cli.RunAsync(temp.Path, "key", "list", "--key-store", etcd.NewStoreAddress(), "--key-file", keyFile);
        Assert.Equal(3, none.Exit);
        Assert.Contains("blocksim keystore init --key-store", none.Output);
        Assert.All(new[] { down, malformed, none }, r => Assert.DoesNotContain("   at ", r.Output));
    }

    [SkippableFact]
    public async Task Two_hundred_key_operations_from_three_writers_at_once_are_all_there_once_and_the_chain_verifies()
    {
        etcd.Require();
        using var temp = new TempDirectory();
        string[] fleet = ["--key-store", etcd.NewStoreAddress(), "--key-file", temp.File("fleet.key")];
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, ["keystore", "init", .. fleet])).Exit);

        // Three writers, each a stream of blocksim processes (one operation each) on a data directory of its
        // own: create with an alias, then rotate it, alias it again, or grant on it.
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<string>();
        var writers = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            string[] host = ["--data-dir", temp.File($"host-{w}"), .. fleet];
            for (var i = 0; i < 34; i++)
            {
                var alias = $"alias/w{w}-{i}";
                var created = await Cli.RunAsync(temp.Path, ["key", "create", "--alias", alias, "--description", "stream", .. host]);
                Assert.True(created.Exit == 0, created.Output);
                acknowledged.Add(alias);
                string[] second = (i % 3) switch
                {
                    0 => ["key", "rotate", alias],
                    1 => ["key", "alias", $"{alias}-again", alias],
                    _ => ["grant", "create", alias, "--grantee", "blocksim-daemon", "--operation", "Decrypt"],
                };
                var done = await Cli.RunAsync(temp.Path, [.. second, .. host]);
                Assert.True(done.Exit == 0, $"{string.Join(' ', second)}: {done.Output}");
                if (i % 3 == 1)
                {
                    acknowledged.Add($"{alias}-again");
                }
            }
        })).ToList();
        await Task.WhenAll(writers);

        var listed = await Cli.RunAsync(temp.Path, ["--json", "key", "list", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.True(listed.Exit == 0, listed.Output);
        var aliases = JsonDocument.Parse(listed.Output).RootElement.EnumerateArray().SelectMany(k => k.GetProperty("aliases").EnumerateArray().Select(a => a.GetString()!)).ToList();
        Assert.Equal(aliases.Count, aliases.Distinct().Count());
        Assert.All(acknowledged, alias => Assert.Contains(alias, aliases));
        Assert.Equal(acknowledged.Count, aliases.Count(a => a.StartsWith("alias/w", StringComparison.Ordinal)));
        var shown = await Cli.RunAsync(temp.Path, ["--json", "audit", "show", "--tail", "10000", "--data-dir", temp.File("admin"), .. fleet]);
        var writtenBy = shown.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{'))
            .Select(l => JsonDocument.Parse(l).RootElement).Where(r => r.GetProperty("eventName").GetString() == "CreateKey").Select(r => r.GetProperty("recordedBy").GetString()).Distinct().Count();
        Assert.True(writtenBy > 100, $"{writtenBy} processes recorded CreateKey"); // one per process: every command was its own
        var verified = await Cli.RunAsync(temp.Path, ["audit", "verify", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.True(verified.Exit == 0, verified.Output);
        log.WriteLine(verified.Output);
    }

    [SkippableFact]
    public async Task A_key_disabled_by_a_third_process_is_refused_at_the_next_attach_by_both_daemons()
    {
        etcd.Require();
        using var temp = new TempDirectory();
        var store = etcd.NewStoreAddress();
        var keyFile = temp.File("fleet.key");
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "keystore", "init", "--key-store", store, "--key-file", keyFile)).Exit);
        string[] fleet = ["--key-store", store, "--key-file", keyFile];
        foreach (var host in new[] { "host-a", "host-b" })
        {
            var created = await Cli.RunAsync(temp.Path, ["volume", "create", "db", "--size", "16M", "--data-dir", temp.File(host), .. fleet]);
            Assert.True(created.Exit == 0, created.Output);
        }

        await using var a = DaemonProcess.Start(temp.Path, ["serve", "--listen", "127.0.0.1:0", "--socket", "none", "--data-dir", temp.File("host-a"), .. fleet]);
        await using var b = DaemonProcess.Start(temp.Path, ["serve", "--listen", "127.0.0.1:0", "--socket", "none", "--data-dir", temp.File("host-b"), .. fleet]);
        int[] ports = [await a.PortAsync(), await b.PortAsync()];
        foreach (var port in ports)
        {
            await AttachAndWriteAsync(port);
        }

        // Where each volume is served, fleet-wide, from any host: both daemons, their listeners, and on volume list.
        var served = await Cli.RunAsync(temp.Path, ["--json", "volume", "served", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.True(served.Exit == 0, served.Output);
        var leases = JsonDocument.Parse(served.Output).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, leases.Count);
        Assert.Contains(leases, l => l.GetProperty("daemon").GetString() == $"blocksim[{a.Id}]" && l.GetProperty("listeners")[0].GetString() == $"127.0.0.1:{ports[0]}");
        Assert.Contains(leases, l => l.GetProperty("daemon").GetString() == $"blocksim[{b.Id}]" && l.GetProperty("listeners")[0].GetString() == $"127.0.0.1:{ports[1]}");
        var listed = await Cli.RunAsync(temp.Path, ["--json", "volume", "list", "--data-dir", temp.File("host-a"), .. fleet]);
        Assert.True(listed.Exit == 0, listed.Output);
        var servedBy = JsonDocument.Parse(listed.Output).RootElement[0].GetProperty("servedBy");
        Assert.Equal($"{Environment.MachineName} blocksim[{a.Id}] at 127.0.0.1:{ports[0]}", Assert.Single(servedBy.EnumerateArray()).GetString());

        // A third process, on a data directory of its own, disables the key both volumes are wrapped under.
        var disabled = await Cli.RunAsync(temp.Path, ["key", "disable", "alias/blocksim/default", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.True(disabled.Exit == 0, disabled.Output);
        foreach (var port in ports)
        {
            var refused = await Assert.ThrowsAsync<NbdClientException>(() => AttachAndWriteAsync(port));
            Assert.Contains("ErrorPolicy", refused.Message);
            Assert.Contains("DisabledException", refused.Message);
        }

        var enabled = await Cli.RunAsync(temp.Path, ["key", "enable", "alias/blocksim/default", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.True(enabled.Exit == 0, enabled.Output);
        foreach (var port in ports)
        {
            await AttachAndWriteAsync(port);
        }

        // One audit trail: Decrypts recorded by both daemons, the disable and enable by the third process, and it verifies.
        var shown = await Cli.RunAsync(temp.Path, ["--json", "audit", "show", "--tail", "1000", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.True(shown.Exit == 0, shown.Output);
        var records = shown.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var decryptedBy = records.Where(r => r.GetProperty("eventName").GetString() == "Decrypt").Select(r => r.GetProperty("recordedBy").GetString()).ToHashSet();
        Assert.Contains(decryptedBy, by => by!.EndsWith($"[{a.Id}]", StringComparison.Ordinal));
        Assert.Contains(decryptedBy, by => by!.EndsWith($"[{b.Id}]", StringComparison.Ordinal));
        Assert.Contains(records, r => r.GetProperty("eventName").GetString() == "DisableKey" && !r.GetProperty("recordedBy").GetString()!.EndsWith($"[{a.Id}]", StringComparison.Ordinal));
        var verified = await Cli.RunAsync(temp.Path, ["audit", "verify", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.True(verified.Exit == 0, verified.Output);

        // A daemon that stops withdraws what it served.
        Assert.Equal(0, await a.InterruptAsync());
        var after = await Cli.RunAsync(temp.Path, ["--json", "volume", "served", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.Equal($"blocksim[{b.Id}]", Assert.Single(JsonDocument.Parse(after.Output).RootElement.EnumerateArray()).GetProperty("daemon").GetString());
    }

    [SkippableFact]
    public async Task With_etcd_down_new_attaches_fail_closed_the_attached_volume_keeps_serving_and_all_resumes_without_a_restart()
    {
        etcd.Require();
        using var own = EtcdCluster.WithMembers(1);
        using var temp = new TempDirectory();
        var store = own.NewStoreAddress();
        string[] fleet = ["--key-store", store, "--key-file", temp.File("fleet.key")];
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, ["keystore", "init", .. fleet])).Exit);
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, ["volume", "create", "db", "--size", "16M", "--data-dir", temp.File("host"), .. fleet])).Exit);
        await using var daemon = DaemonProcess.Start(temp.Path, ["serve", "--listen", "127.0.0.1:0", "--socket", "none", "--data-dir", temp.File("host"), .. fleet]);
        var port = await daemon.PortAsync();
        await using var attached = await ConnectAsync(port);

        own.Kill(0);
        var data = new byte[65536];
        new Random(26).NextBytes(data);
        await attached.WriteAsync(0, data);
        await attached.FlushAsync();
        var back = new byte[data.Length];
        await attached.ReadAsync(0, back);
        Assert.Equal(data, back);

        var refused = await Assert.ThrowsAsync<NbdClientException>(() => AttachAndWriteAsync(port));
        log.WriteLine(refused.Message);
        Assert.Contains("ErrorPolicy", refused.Message);
        Assert.Contains("cannot reach its key store", refused.Message);

        own.Restart(0);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                await AttachAndWriteAsync(port);
                break;
            }
            catch (NbdClientException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
        }

        Assert.False(daemon.HasExited, daemon.Output);
    }

    [SkippableFact]
    public async Task Over_tls_the_store_is_reached_with_its_ca_and_a_client_certificate_and_refused_without()
    {
        etcd.Require();
        using var credentials = new TlsFixture();
        var alice = BlockSim.Nbd.Tls.PrivateCertificateAuthority.ClientDirectory(credentials.Ca, "alice");
        var ca = Path.Combine(credentials.Ca, "ca-cert.pem");
        var clientTls = new BlockSim.KeyStore.Etcd.EtcdTls(ca, Path.Combine(alice, "client-cert.pem"), Path.Combine(alice, "client-key.pem"));
        using var secure = EtcdCluster.WithTls(ca, Path.Combine(credentials.Ca, "server-cert.pem"), Path.Combine(credentials.Ca, "server-key.pem"), clientTls);
        secure.Require();
        using var temp = new TempDirectory();
        var store = secure.NewStoreAddress();
        string[] tls = ["--key-store", store, "--key-file", temp.File("fleet.key"), "--key-store-ca", ca, "--key-store-cert", clientTls.CertificateFile!, "--key-store-key", clientTls.KeyFile!];

        var init = await Cli.RunAsync(temp.Path, ["keystore", "init", .. tls]);
        Assert.True(init.Exit == 0, init.Output);
        var listed = await Cli.RunAsync(temp.Path, ["key", "list", .. tls]);
        Assert.True(listed.Exit == 0, listed.Output);
        Assert.Contains("alias/blocksim/default", listed.Output);

        // Without a client certificate, with plain gRPC, or trusting another CA: refused, with a clear error, nothing opened.
        var noCertificate = await Cli.RunAsync(temp.Path, "key", "list", "--key-store", store, "--key-file", temp.File("fleet.key"), "--key-store-ca", ca);
        var plain = await Cli.RunAsync(temp.Path, "key", "list", "--key-store", store, "--key-file", temp.File("fleet.key"));
        var otherCa = await Cli.RunAsync(temp.Path, ["key", "list", .. tls[..^6], "--key-store-ca", Path.Combine(credentials.OtherCa, "ca-cert.pem"), "--key-store-cert", clientTls.CertificateFile!, "--key-store-key", clientTls.KeyFile!]);
        foreach (var refused in new[] { noCertificate, plain, otherCa })
        {
            log.WriteLine(refused.Output);
            Assert.Equal(5, refused.Exit);
            Assert.Contains("DependencyTimeoutException", refused.Output);
            Assert.DoesNotContain("alias/blocksim/default", refused.Output);
            Assert.DoesNotContain("   at ", refused.Output);
        }

        var certificateWithoutCa = await Cli.RunAsync(temp.Path, "key", "list", "--key-store", store, "--key-store-cert", clientTls.CertificateFile!, "--key-store-key", clientTls.KeyFile!);
        Assert.Equal(2, certificateWithoutCa.Exit);
        Assert.Contains("--key-store-ca", certificateWithoutCa.Output);
    }

    [SkippableFact]
    public async Task A_fleet_unseals_through_one_kmip_key_and_no_host_keeps_a_key_file()
    {
        etcd.Require();
        using var kmip = new BlockSim.Kmip.Tests.PyKmipServer();
        kmip.Require();
        using var temp = new TempDirectory();
        var store = etcd.NewStoreAddress();
        var keyFile = temp.File("fleet.key");
        var endpoint = kmip.Endpoint();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "keystore", "init", "--key-store", store, "--key-file", keyFile)).Exit);
        var added = await Cli.RunAsync(temp.Path, "keystore", "slot", "add", "kmip", "--server", $"127.0.0.1:{kmip.Port}", "--ca", endpoint.CaFile, "--cert", endpoint.CertificateFile, "--key", endpoint.KeyFile, "--key-store", store, "--key-file", keyFile);
        Assert.True(added.Exit == 0, added.Output);
        var removed = await Cli.RunAsync(temp.Path, "keystore", "slot", "remove", "0", "--yes", "--key-store", store, "--key-file", keyFile);
        Assert.True(removed.Exit == 0, removed.Output);
        File.Delete(keyFile); // from here on, no host holds a secret that opens the store

        string[] fleet = ["--key-store", store];
        foreach (var host in new[] { "host-a", "host-b" })
        {
            var created = await Cli.RunAsync(temp.Path, ["volume", "create", "db", "--size", "16M", "--data-dir", temp.File(host), .. fleet]);
            Assert.True(created.Exit == 0, created.Output);
        }

        await using var a = DaemonProcess.Start(temp.Path, ["serve", "--listen", "127.0.0.1:0", "--socket", "none", "--data-dir", temp.File("host-a"), .. fleet]);
        await using var b = DaemonProcess.Start(temp.Path, ["serve", "--listen", "127.0.0.1:0", "--socket", "none", "--data-dir", temp.File("host-b"), .. fleet]);
        foreach (var daemon in new[] { a, b })
        {
            await AttachAndWriteAsync(await daemon.PortAsync());
            Assert.Contains("opened with slot 0: KMIP key", daemon.Output);
            Assert.False(File.Exists(Path.Combine(temp.File(daemon == a ? "host-a" : "host-b"), "keystore.key")));
        }

        var verified = await Cli.RunAsync(temp.Path, ["audit", "verify", "--data-dir", temp.File("admin"), .. fleet]);
        Assert.True(verified.Exit == 0, verified.Output);
    }

    private static Task<NbdClient> ConnectAsync(int port) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "db" });

    private static async Task AttachAndWriteAsync(int port)
    {
        await using var client = await ConnectAsync(port);
        await client.WriteAsync(0, new byte[4096]);
        await client.FlushAsync();
    }
}
