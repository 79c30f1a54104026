using BlockSim.Nbd.Client;
using BlockSim.Nbd.Tests;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary><c>blocksim tls init</c> and <c>serve</c> with TLS, through the real executable.</summary>
public class TlsServeTests
{
    [Fact]
    public async Task Tls_init_writes_a_ca_a_server_and_clients_with_private_keys_0600_and_never_overwrites()
    {
        using var temp = new TempDirectory();
        var (exit, output) = await Cli(temp.Path, "tls", "init", "creds", "--client", "alice");
        Assert.Equal(0, exit);
        Assert.Contains("blocksim serve --tls-dir creds", output);
        var creds = temp.File("creds");
        foreach (var key in new[] { "ca/ca-key.pem", "server-key.pem", "clients/alice/client-key.pem" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(creds, key)));
            Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(Path.Combine(creds, key)));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(creds));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(creds, "ca")));

        // Regression: the CA key sat among the files 'serve --tls-dir creds' reads. The only private key there
        // now is the server's own.
        Assert.Equal(
            new[] { "server-key.pem" },
            Directory.GetFiles(creds).Where(f => File.ReadAllText(f).Contains("PRIVATE KEY", StringComparison.Ordinal)).Select(f => Path.GetFileName(f)).ToArray());
        var before = File.ReadAllText(Path.Combine(creds, "server-key.pem"));
        (exit, output) = await Cli(temp.Path, "tls", "init", "creds");
        Assert.NotEqual(0, exit);
        Assert.Contains("already exists", output);
        Assert.Equal(before, File.ReadAllText(Path.Combine(creds, "server-key.pem")));

        (exit, _) = await Cli(temp.Path, "tls", "client", "creds", "bob");
        Assert.Equal(0, exit);
        Assert.True(File.Exists(Path.Combine(creds, "clients", "bob", "client-cert.pem")));
        Assert.Equal(Certificate(Path.Combine(creds, "ca-cert.pem")).Subject, Certificate(Path.Combine(creds, "clients", "bob", "client-cert.pem")).Issuer); // the same CA, its key from creds/ca

        (exit, output) = await Cli(temp.Path, "tls", "client", "creds", "bob");
        Assert.NotEqual(0, exit);
        Assert.Contains("already exists", output);
    }

    [Fact]
    public async Task A_config_with_tls_requires_it_on_its_listeners_and_serves_allowed_clients_only()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli(temp.Path, "tls", "init", "creds", "--client", "alice", "--client", "bob")).Exit);
        Assert.Equal(0, (await Cli(temp.Path, "volume", "create", "db", "--size", "4M")).Exit);
        File.WriteAllText(temp.File("blocksim.json"), """
            {
              "listen": ["127.0.0.1:0"],
              "socket": "none",
              "tls": { "directory": "creds" },
              "exports": {
                "db": { "allowedClients": ["CN=alice"] },
                "scratch": { "memory": true, "size": "4M" }
              }
            }
            """);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json");
        var port = await daemon.PortAsync();
        Assert.Contains("TLS require", daemon.Output);
        Assert.Contains("nbds://", daemon.Output);

        var clients = new ClientCertificates(temp.File("creds"));
        await using (var alice = await Connect(port, "db", clients.Of("alice")))
        {
            await alice.WriteAsync(0, new byte[] { 1, 2, 3 });
        }

        var bob = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "db", clients.Of("bob")));
        Assert.Contains("ErrorPolicy", bob.Message);
        await using (var bobScratch = await Connect(port, "scratch", clients.Of("bob")))
        {
            await bobScratch.FlushAsync();
        }

        var plain = await Assert.ThrowsAsync<NbdClientException>(() => Connect(port, "scratch", null));
        Assert.Contains("ErrorTlsRequired", plain.Message);
        Assert.Equal(0, await daemon.InterruptAsync());
    }

    [Theory]
    [InlineData("127.0.0.1:0,tls=on", "none", "127.0.0.1:0")]
    [InlineData("127.0.0.1:0", "plain.sock,tls=off", "plain.sock")]
    public async Task Required_client_certificates_stop_start_up_on_a_listener_that_lets_clients_skip_tls(string listen, string socket, string named)
    {
        // Regression: a tls=on listener served an anonymous plaintext client although certificates were required.
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli(temp.Path, "tls", "init", "creds")).Exit);
        File.WriteAllText(temp.File("blocksim.json"), $$"""
            {
              "listen": ["{{listen}}"],
              "socket": "{{socket}}",
              "tls": { "directory": "creds", "requireClientCertificate": true },
              "exports": { "scratch": { "memory": true, "size": "4M" } }
            }
            """);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json");
        Assert.Equal(2, await daemon.WaitForExitAsync());
        Assert.Contains(named, daemon.Output);
        Assert.Contains("client certificates are required", daemon.Output);
        Assert.DoesNotContain("   at ", daemon.Output);
    }

    [Theory]
    [InlineData("""{ "listen": ["127.0.0.1:0,tls=on"] }""", "needs TLS credentials")]
    [InlineData("""{ "tls": { "directory": "nowhere" } }""", "cannot be loaded")]
    [InlineData("""{ "tls": { "directory": "nowhere", "mode": "maybe" } }""", "off, on or require")]
    [InlineData("""{ "exports": { "m": { "memory": true, "size": "4M", "allowedClients": [] } } }""", "allowedClients is empty")]
    public async Task A_bad_tls_configuration_is_a_usage_error_that_names_the_problem(string json, string expected)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("blocksim.json"), json);
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--config", "blocksim.json", "--socket", "none");
        Assert.Equal(2, await daemon.WaitForExitAsync());
        Assert.Contains(expected, daemon.Output);
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate(string pemFile)
    {
        var certificates = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        certificates.ImportFromPemFile(pemFile);
        return certificates[0];
    }

    private static Task<NbdClient> Connect(int port, string export, System.Net.Security.SslClientAuthenticationOptions? tls) =>
        NbdClient.ConnectTcpAsync("127.0.0.1", port, new NbdClientOptions { ExportName = export, Tls = tls });

    private static async Task<(int Exit, string Output)> Cli(string directory, params string[] arguments)
    {
        await using var process = DaemonProcess.Start(directory, arguments);
        var exit = await process.WaitForExitAsync();
        return (exit, process.Output);
    }

    /// <summary>Client TLS options from a directory 'tls init' wrote (trusting its CA).</summary>
    private sealed class ClientCertificates(string directory)
    {
        public System.Net.Security.SslClientAuthenticationOptions Of(string client) => TlsFixture.ClientOptions(directory, client);
    }
}
