using System.Security.Cryptography;
using System.Text.Json;
using BlockSim.Kmip;
using BlockSim.Kmip.Tests;
using BlockSim.Nbd.Client;
using BlockSim.Storage.Tests;
using Xunit.Abstractions;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// <c>blocksim keystore slot ...</c> with a kmip slot, through the real executable and PyKMIP's server: a
/// store whose key-file slot is removed serves its volume after a restart through one KMIP Decrypt (the
/// start-up log and the audit log say which slot), and a revoked key or a server that is down stops the
/// start-up with a message and exit 4 or 5, the volume untouched.
/// </summary>
[Collection(PyKmipCollection.Name)]
public sealed class KmipKeySlotCliTests(PyKmipServer server, ITestOutputHelper log)
{
    private string[] KmipOptions(string client = "host-a")
    {
        var endpoint = server.Endpoint(client);
        return ["--server", $"127.0.0.1:{server.Port}", "--ca", endpoint.CaFile, "--cert", endpoint.CertificateFile, "--key", endpoint.KeyFile];
    }

    private async Task<(int Exit, string Output)> Run(string directory, params string[] arguments)
    {
        var result = await Cli.RunAsync(directory, arguments);
        log.WriteLine($"$ blocksim {string.Join(' ', arguments)} -> {result.Exit}\n{result.Output}");
        return result;
    }

    [SkippableFact]
    public async Task A_store_sealed_only_by_kmip_serves_its_volume_after_a_restart_and_fails_cleanly_once_the_key_is_revoked()
    {
        server.Require();
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Run(temp.Path, "volume", "create", "db", "--size", "16M")).Exit);

        var added = await Run(temp.Path, ["--json", "keystore", "slot", "add", "kmip", .. KmipOptions()]);
        Assert.True(added.Exit == 0, added.Output);
        var slot = JsonDocument.Parse(added.Output).RootElement;
        Assert.Equal(1, slot.GetProperty("index").GetInt32());
        var objectId = slot.GetProperty("kmipObjectId").GetString()!;

        var removed = await Run(temp.Path, "keystore", "slot", "remove", "0", "--yes");
        Assert.True(removed.Exit == 0, removed.Output);
        Assert.Contains("Removed slot 0: key file", removed.Output);
        var listed = await Run(temp.Path, "keystore", "slot", "list");
        Assert.Equal(0, listed.Exit);
        Assert.Matches(@"(?m)^ +0  kmip ", listed.Output);
        Assert.Contains($"KMIP key {objectId} on 127.0.0.1:{server.Port}", listed.Output);

        // Served through the kmip slot: write a pattern, stop, start again, read it back.
        var pattern = RandomNumberGenerator.GetBytes(65536);
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            var port = await daemon.PortAsync();
            Assert.Contains($"opened with slot 0: KMIP key {objectId}", daemon.Output);
            Assert.DoesNotContain("sealed by the key file", daemon.Output); // event 4002 is for key-file stores
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "db" });
            await client.WriteAsync(4096, pattern);
            await client.FlushAsync();
            await client.DisposeAsync();
            Assert.Equal(0, await daemon.InterruptAsync());
        }

        var volume = Path.Combine(temp.Path, "blocksim-data", "volumes", "db.vol");
        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            var port = await daemon.PortAsync();
            await using var client = await NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = "db" });
            var read = new byte[pattern.Length];
            await client.ReadAsync(4096, read);
            Assert.Equal(pattern, read);
            await client.DisposeAsync();
            Assert.Equal(0, await daemon.InterruptAsync());
        }

        var audit = await Run(temp.Path, "--json", "audit", "show", "--tail", "100");
        var opened = audit.Output.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.GetProperty("eventName").GetString() == "OpenKeyStore").ToList();
        Assert.Equal(2, opened.Count);
        Assert.All(opened, r => Assert.Contains($"KMIP key {objectId}", r.GetProperty("additionalEventData").GetProperty("keySlot").GetString(), StringComparison.Ordinal));

        // The key manager down: the key file is still on disk, but it opens nothing now; exit 5, no stack trace.
        var volumeBytes = SHA256.HashData(File.ReadAllBytes(volume));
        server.Kill();
        try
        {
            var down = await Run(temp.Path, "key", "list");
            Assert.Equal(5, down.Exit);
            Assert.Contains("key manager is unavailable", down.Output);
            Assert.Contains($"127.0.0.1:{server.Port}", down.Output);
            Assert.DoesNotContain("   at ", down.Output);
        }
        finally
        {
            server.Start();
        }

        // Revoked: start-up fails with exit 4, saying so; the volume is untouched.
        using (var kmip = KmipClient.Connect(server.Endpoint()))
        {
            kmip.Revoke(objectId, KmipRevocationReason.CessationOfOperation);
        }

        await using (var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--socket", "none"))
        {
            await Cli.ExitsBeforeReadyAsync(daemon);
            Assert.Equal(4, await daemon.WaitForExitAsync());
            Assert.Contains("revoked", daemon.Output);
            Assert.Contains(objectId, daemon.Output);
            Assert.DoesNotContain("   at ", daemon.Output);
        }

        Assert.Equal(volumeBytes, SHA256.HashData(File.ReadAllBytes(volume)));
    }

    [SkippableFact]
    public async Task A_certificate_the_key_manager_refuses_is_named_and_nothing_is_added()
    {
        server.Require();
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Run(temp.Path, "volume", "create", "db", "--size", "1M")).Exit);
        var stranger = await Run(temp.Path, ["keystore", "slot", "add", "kmip", .. KmipOptions("stranger")]);
        Assert.Equal(4, stranger.Exit);
        Assert.Contains("refused", stranger.Output);
        Assert.Contains(server.Endpoint("stranger").CertificateFile, stranger.Output);
        Assert.DoesNotContain("   at ", stranger.Output);

        var created = await Run(temp.Path, ["--json", "keystore", "slot", "add", "kmip", .. KmipOptions("host-a")]);
        Assert.Equal(0, created.Exit);
        var objectId = JsonDocument.Parse(created.Output).RootElement.GetProperty("kmipObjectId").GetString()!;
        var notOwner = await Run(temp.Path, ["keystore", "slot", "add", "kmip", .. KmipOptions("host-b"), "--object-id", objectId]);
        Assert.Equal(4, notOwner.Exit);
        Assert.Contains("Permission Denied", notOwner.Output);

        var badServer = await Run(temp.Path, ["keystore", "slot", "add", "kmip", "--server", "127.0.0.1:99999", .. KmipOptions()[2..]]);
        Assert.Equal(2, badServer.Exit);
        Assert.Contains("--server", badServer.Output);
        var listed = await Run(temp.Path, "--json", "keystore", "slot", "list");
        Assert.Equal(2, JsonDocument.Parse(listed.Output).RootElement.GetArrayLength());
    }
}
