using BlockSim.Nbd.Tests;
using BlockSim.Nbd.Tls;
using Xunit.Abstractions;

namespace BlockSim.Interop.Tests;

/// <summary>
/// Real clients over TLS (libnbd's nbdinfo, qemu-img and qemu-io, nbd-client) against a listener that
/// requires it, with client certificates from 'blocksim tls init''s CA code; plaintext clients and a client
/// whose certificate comes from another CA are refused.
/// </summary>
public sealed class TlsInteropTests(TlsFixture tls, ITestOutputHelper output) : IClassFixture<TlsFixture>
{
    private string Alice => PrivateCertificateAuthority.ClientDirectory(tls.Ca, "alice");

    private InteropServer Server(string export) => new(export, 16L << 20, NbdTlsMode.Require, tls.Credentials());

    [SkippableFact]
    public async Task Nbdinfo_attaches_over_tls_with_a_client_certificate()
    {
        ExternalTool.Require("nbdinfo", "libnbd-bin");
        await using var server = Server("tlsinfo");
        var (exit, text) = await Run("nbdinfo", $"nbds://127.0.0.1:{server.Port}/tlsinfo?tls-certificates={Alice}");
        Assert.Equal(0, exit);
        Assert.Contains("with TLS", text);
        Assert.Contains("export-size: 16777216", text);
    }

    [SkippableFact]
    public async Task Qemu_img_and_qemu_io_work_over_tls_creds_x509()
    {
        ExternalTool.Require("qemu-io", "qemu-utils");
        await using var server = Server("tlsqemu");
        string[] credentials = ["--object", $"tls-creds-x509,id=tls0,dir={Alice},endpoint=client"];
        var image = $"driver=nbd,host=127.0.0.1,port={server.Port},export=tlsqemu,tls-creds=tls0";
        var (exit, text) = await Run("qemu-img", ["info", .. credentials, "--image-opts", image]);
        Assert.Equal(0, exit);
        Assert.Contains("16 MiB", text);

        (exit, text) = await Run("qemu-io", [.. credentials, "--image-opts", image, "-c", "write -P 0x5a 0 256k", "-c", "read -P 0x5a 0 256k", "-c", "flush"]);
        Assert.Equal(0, exit);
        Assert.DoesNotContain("Pattern verification failed", text);
        Assert.Contains("read 262144/262144", text);
    }

    [SkippableFact]
    public async Task Nbd_client_lists_the_exports_over_tls()
    {
        ExternalTool.Require("nbd-client", "nbd-client");
        await using var server = Server("tlslist");
        var (exit, text) = await Run(
            "nbd-client", "-l", "127.0.0.1", server.Port.ToString(),
            "-cacertfile", Path.Combine(Alice, "ca-cert.pem"), "-certfile", Path.Combine(Alice, "client-cert.pem"),
            "-keyfile", Path.Combine(Alice, "client-key.pem"), "-tlshostname", "localhost");
        Assert.Equal(0, exit);
        Assert.Contains("tlslist", text);
    }

    [SkippableFact]
    public async Task Plaintext_clients_are_refused_as_the_protocol_says()
    {
        ExternalTool.Require("qemu-img", "qemu-utils");
        ExternalTool.Require("nbdinfo", "libnbd-bin");
        ExternalTool.Require("nbd-client", "nbd-client");
        await using var server = Server("plain");
        var (exit, text) = await Run("qemu-img", "info", $"nbd://127.0.0.1:{server.Port}/plain");
        Assert.NotEqual(0, exit);
        Assert.Contains("TLS negotiation required", text); // qemu's words for NBD_REP_ERR_TLS_REQD
        (exit, _) = await Run("nbdinfo", $"nbd://127.0.0.1:{server.Port}/plain");
        Assert.NotEqual(0, exit);
        (exit, text) = await Run("nbd-client", "-l", "127.0.0.1", server.Port.ToString());
        Assert.NotEqual(0, exit);
        Assert.Contains("requires TLS", text);
    }

    [SkippableFact]
    public async Task A_client_certificate_from_another_ca_is_refused()
    {
        ExternalTool.Require("nbdinfo", "libnbd-bin");
        await using var server = Server("otherca");

        // Trusts our server's CA, but presents eve's certificate from the other CA.
        var mixed = Path.Combine(server.Directory, "eve");
        Directory.CreateDirectory(mixed);
        File.Copy(Path.Combine(tls.Ca, "ca-cert.pem"), Path.Combine(mixed, "ca-cert.pem"));
        var eve = PrivateCertificateAuthority.ClientDirectory(tls.OtherCa, "eve");
        File.Copy(Path.Combine(eve, "client-cert.pem"), Path.Combine(mixed, "client-cert.pem"));
        File.Copy(Path.Combine(eve, "client-key.pem"), Path.Combine(mixed, "client-key.pem"));

        var (exit, _) = await Run("nbdinfo", $"nbds://127.0.0.1:{server.Port}/otherca?tls-certificates={mixed}");
        Assert.NotEqual(0, exit);
        (exit, _) = await Run("nbdinfo", $"nbds://127.0.0.1:{server.Port}/otherca?tls-certificates={Alice}");
        Assert.Equal(0, exit); // and the server carries on for others
    }

    private Task<(int ExitCode, string Output)> Run(string program, params string[] arguments) =>
        ExternalTool.RunLoggedAsync(output, program, arguments, TimeSpan.FromSeconds(60));
}
