using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BlockSim.Interop.Tests;
using BlockSim.Nbd.Tls;

namespace BlockSim.Kmip.Tests;

/// <summary>
/// PyKMIP's server (Debian python3-pykmip) on a loopback port of its own, with mutual TLS and certificates
/// made for the run: a CA, the server's certificate for 127.0.0.1, and client certificates "host-a" and
/// "host-b" from that CA (the server makes each object the property of the certificate that created it),
/// and "stranger" from another CA. Stopped by PID. Where PyKMIP is not installed the tests skip with the
/// reason, unless BLOCKSIM_REQUIRE_INTEROP=1 (as CI sets), where they fail.
/// </summary>
public sealed class PyKmipServer : IDisposable
{
    private static readonly string? s_binary = ExternalTool.Find("pykmip-server");
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"blocksim-kmip-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
    private Process? _process;
    private string? _bootFailure;

    public PyKmipServer()
    {
        Port = FreePort();
        if (s_binary is null)
        {
            return; // Require says so
        }

        Directory.CreateDirectory(_directory);
        using (var ca = PrivateCertificateAuthority.Create(Path.Combine(_directory, "ca"), ["127.0.0.1"], 30))
        {
            ca.IssueClient("host-a", 30);
            ca.IssueClient("host-b", 30);
        }

        using (var other = PrivateCertificateAuthority.Create(Path.Combine(_directory, "other-ca"), ["127.0.0.1"], 30))
        {
            other.IssueClient("stranger", 30);
        }

        Directory.CreateDirectory(Path.Combine(_directory, "policies"));
        File.WriteAllText(ConfigPath, string.Join('\n',
            "[server]",
            "hostname=127.0.0.1",
            $"port={Port}",
            $"certificate_path={Path.Combine(_directory, "ca", "server-cert.pem")}",
            $"key_path={Path.Combine(_directory, "ca", "server-key.pem")}",
            $"ca_path={CaFile}",
            "auth_suite=TLS1.2",
            $"policy_path={Path.Combine(_directory, "policies")}",
            "enable_tls_client_auth=True",
            "logging_level=INFO",
            $"database_path={Path.Combine(_directory, "pykmip.db")}",
            ""));
        Start();
    }

    public int Port { get; }

    public string CaFile => Path.Combine(_directory, "ca", "ca-cert.pem");

    /// <summary>A CA that did not sign the server's certificate.</summary>
    public string OtherCaFile => Path.Combine(_directory, "other-ca", "ca-cert.pem");

    private string ConfigPath => Path.Combine(_directory, "server.conf");

    private string LogPath => Path.Combine(_directory, "server.log");

    /// <summary>How client <paramref name="name"/> (host-a, host-b, or stranger from the other CA) reaches the server.</summary>
    public KmipEndpoint Endpoint(string name = "host-a")
    {
        var client = name == "stranger"
            ? PrivateCertificateAuthority.ClientDirectory(Path.Combine(_directory, "other-ca"), name)
            : PrivateCertificateAuthority.ClientDirectory(Path.Combine(_directory, "ca"), name);
        return new KmipEndpoint("127.0.0.1", Port, CaFile, Path.Combine(client, "client-cert.pem"), Path.Combine(client, "client-key.pem"));
    }

    /// <summary>Skips (or, with BLOCKSIM_REQUIRE_INTEROP=1, fails) when PyKMIP is missing; fails when it did not boot.</summary>
    public void Require()
    {
        ExternalTool.Require("pykmip-server", "python3-pykmip");
        if (_bootFailure is not null)
        {
            Assert.Fail(_bootFailure);
        }
    }

    /// <summary>Stops the server (kill -9 of its process tree): every request fails until <see cref="Start"/>.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts the server on the same port and database (objects made before are there again).</summary>
    public void Start()
    {
        var start = new ProcessStartInfo(s_binary!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-f", ConfigPath, "-l", LogPath })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        _bootFailure = WaitListening(TimeSpan.FromSeconds(30));
    }

    private string? WaitListening(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited)
            {
                return $"pykmip-server exited with {_process.ExitCode} at start-up: {Tail()}";
            }

            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, Port);
                return null;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        return $"pykmip-server did not listen on 127.0.0.1:{Port} within {timeout.TotalSeconds} s: {Tail()}";
    }

    private string Tail() => File.Exists(LogPath) ? string.Join('\n', File.ReadLines(LogPath).TakeLast(20)) : "(no log)";

    /// <summary>A loopback port nothing listens on (at the moment it is asked).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        Kill();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a file the server still held; the temporary directory is cleaned another day
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PyKmipCollection : ICollectionFixture<PyKmipServer>
{
    public const string Name = "PyKMIP server";
}
