using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BlockSim.Interop.Tests;
using BlockSim.KeyStore.Etcd;

namespace BlockSim.KeyStore.Tests;

/// <summary>
/// etcd members booted for the test run on loopback ports of their own, in a temporary directory, and
/// stopped by PID when it ends (one member by default; three for the fault tests). Where etcd is not
/// installed the tests skip with the reason printed, unless BLOCKSIM_REQUIRE_INTEROP=1 (as CI sets), where
/// they fail: these tests must never pass by not running.
/// </summary>
public sealed class EtcdCluster : IDisposable
{
    private static readonly string? s_binary = ExternalTool.Find("etcd");
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"blocksim-etcd-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
    private readonly List<Member> _members = [];
    private readonly string? _bootFailure;
    private readonly (string Ca, string Cert, string Key)? _serverTls;
    private readonly EtcdTls? _clientTls;
    private int _stores;

    public EtcdCluster()
        : this(1, null, null)
    {
    }

    /// <summary>A cluster of its own with <paramref name="members"/> members, for the fault tests (disposed by the test).</summary>
    public static EtcdCluster WithMembers(int members) => new(members, null, null);

    /// <summary>
    /// One member serving TLS only, with client certificates required (--client-cert-auth) and checked against
    /// <paramref name="ca"/>; <paramref name="client"/> is how the cluster itself checks it is up.
    /// </summary>
    public static EtcdCluster WithTls(string ca, string serverCert, string serverKey, EtcdTls client) => new(1, (ca, serverCert, serverKey), client);

    private EtcdCluster(int members, (string Ca, string Cert, string Key)? serverTls, EtcdTls? clientTls)
    {
        _serverTls = serverTls;
        _clientTls = clientTls;
        if (s_binary is null)
        {
            return; // Require says so
        }

        Directory.CreateDirectory(_directory);
        for (var i = 1; i <= members; i++)
        {
            _members.Add(new Member($"m{i}", FreePort(), FreePort(), Path.Combine(_directory, $"m{i}")));
        }

        foreach (var member in _members)
        {
            Start(member);
        }

        _bootFailure = WaitHealthy(TimeSpan.FromSeconds(30));
    }

    private sealed record Member(string Name, int ClientPort, int PeerPort, string DataDirectory)
    {
        public Process? Process { get; set; }
    }

    /// <summary>The client endpoints of every member, as an etcd:// store address takes them.</summary>
    public string Endpoints => string.Join(",", _members.Select(m => $"127.0.0.1:{m.ClientPort}"));

    public int Members => _members.Count;

    /// <summary>A store address under a prefix no other test uses.</summary>
    public string NewStoreAddress() => $"etcd://{Endpoints}/test-{Interlocked.Increment(ref _stores)}-{Guid.NewGuid():N}";

    /// <summary>Skips (or, with BLOCKSIM_REQUIRE_INTEROP=1, fails) when etcd is missing; fails when it did not boot.</summary>
    public void Require()
    {
        ExternalTool.Require("etcd", "etcd-server");
        ExternalTool.Require("etcdctl", "etcd-client");
        if (_bootFailure is not null)
        {
            Assert.Fail(_bootFailure);
        }
    }

    /// <summary>Runs etcdctl (API v3) against <paramref name="address"/>'s members; its output, or a failure with what it said.</summary>
    public static string Etcdctl(EtcdStoreAddress address, params string[] arguments)
    {
        var start = new ProcessStartInfo(ExternalTool.Find("etcdctl") ?? "etcdctl") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["ETCDCTL_API"] = "3";
        start.ArgumentList.Add("--endpoints=" + string.Join(",", address.Members.Select(m => $"{m.Host}:{m.Port}")));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"etcdctl {string.Join(' ', arguments)} failed: {stderr.Result}");
        return output;
    }

    /// <summary>Stops member <paramref name="index"/> (0-based) as a crash would: kill -9.</summary>
    public void Kill(int index)
    {
        var member = _members[index];
        member.Process?.Kill();
        member.Process?.WaitForExit();
        member.Process = null;
    }

    /// <summary>Starts a killed member again on its data directory.</summary>
    public void Restart(int index) => Start(_members[index]);

    private void Start(Member member)
    {
        var cluster = string.Join(",", _members.Select(m => $"{m.Name}=http://127.0.0.1:{m.PeerPort}"));
        var scheme = _serverTls is null ? "http" : "https";
        var start = new ProcessStartInfo(s_binary!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            "--name", member.Name, "--data-dir", member.DataDirectory,
            "--listen-client-urls", $"{scheme}://127.0.0.1:{member.ClientPort}", "--advertise-client-urls", $"{scheme}://127.0.0.1:{member.ClientPort}",
            "--listen-peer-urls", $"http://127.0.0.1:{member.PeerPort}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{member.PeerPort}",
            "--initial-cluster", cluster, "--initial-cluster-state", "new", "--log-level", "error",
        })
        {
            start.ArgumentList.Add(argument);
        }

        if (_serverTls is { } tls)
        {
            foreach (var argument in new[] { "--cert-file", tls.Cert, "--key-file", tls.Key, "--trusted-ca-file", tls.Ca, "--client-cert-auth" })
            {
                start.ArgumentList.Add(argument);
            }
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { }; // drained, so a full pipe never stops etcd
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        member.Process = process;
    }

    /// <summary>Null once a read through every member's endpoint answers; else what went wrong.</summary>
    private string? WaitHealthy(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var medium = new EtcdKeyStoreMedium($"etcd://{Endpoints}/health", _clientTls);
                _ = medium.Exists();
                return null;
            }
            catch (KeyStoreException e)
            {
                last = e.Message;
                Thread.Sleep(100);
            }
        }

        return $"etcd ({_members.Count} member(s), {Endpoints}) did not answer within {timeout.TotalSeconds} s: {last}";
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        foreach (var member in _members.Where(m => m.Process is not null))
        {
            member.Process!.Kill();
            member.Process.WaitForExit();
            member.Process.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Never made (etcd missing), or a member slow to die: under /tmp, named for what it was.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class EtcdCollection : ICollectionFixture<EtcdCluster>
{
    public const string Name = "etcd";
}
