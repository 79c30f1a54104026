using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace BlockSim.Storage.Rbd.Tests;

/// <summary>
/// A one-node Ceph cluster booted once for the test run by tests/ceph/start.sh in a temporary directory, on
/// a monitor port of its own, and stopped by its pid files when the run ends. Where Ceph or librbd is not
/// installed the tests skip with the reason printed, unless BLOCKSIM_REQUIRE_INTEROP=1 (as CI sets), where
/// they fail: these tests must never pass by not running.
/// </summary>
public sealed class CephCluster : IDisposable
{
    public const string RequireVariable = "BLOCKSIM_REQUIRE_INTEROP";
    private static readonly string s_scripts = Path.Combine(AppContext.BaseDirectory, "ceph");
    private readonly string? _directory;
    private readonly string? _missing;
    private readonly string? _bootFailure;
    private readonly RadosConnection? _connection;
    private readonly RbdPool? _pool;
    private int _images;

    public CephCluster()
    {
        _missing = FindMissing();
        if (_missing is not null)
        {
            return;
        }

        _directory = Path.Combine(Path.GetTempPath(), $"blocksim-ceph-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        var clock = Stopwatch.StartNew();
        var (exit, output) = Run(Path.Combine(s_scripts, "start.sh"), [_directory, FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(3));
        BootTime = clock.Elapsed;
        if (exit != 0)
        {
            _bootFailure = $"tests/ceph/start.sh failed (exit {exit}) after {BootTime.TotalSeconds:F1} s:\n{output}";
            return;
        }

        ConfigurationPath = Path.Combine(_directory, "ceph.conf");
        BootLog = output;
        _connection = RadosConnection.Connect(ConfigurationPath);
        _pool = _connection.OpenPool("rbd");
    }

    public string ConfigurationPath { get; } = "";

    public TimeSpan BootTime { get; }

    public string BootLog { get; } = "";

    /// <summary>The run's shared connection's pool. Tests that fence a client use connections of their own (<see cref="Connect"/>).</summary>
    public RbdPool Pool => _pool ?? throw new InvalidOperationException("The cluster is not up.");

    /// <summary>Skips (or, with BLOCKSIM_REQUIRE_INTEROP=1, fails) when Ceph is missing; fails when it did not boot.</summary>
    public void Require()
    {
        if (_missing is not null)
        {
            var reason = $"{_missing} (Debian: apt-get install ceph-mon ceph-osd librbd-dev uuid-runtime)";
            if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
            {
                Assert.Fail($"{reason}, and {RequireVariable}=1 requires every interop test to run.");
            }

            Skip.If(true, reason);
        }

        if (_bootFailure is not null)
        {
            Assert.Fail(_bootFailure);
        }
    }

    /// <summary>A new client of the cluster (its own librados instance, so breaking its lock fences only it).</summary>
    public RadosConnection Connect() => RadosConnection.Connect(ConfigurationPath);

    /// <summary>A fresh image name in pool rbd, made with <paramref name="size"/> bytes.</summary>
    public string CreateImage(long size = 64L << 20)
    {
        var name = $"test-{Interlocked.Increment(ref _images)}-{Guid.NewGuid():N}"[..24];
        RbdBlockDevice.Create(Pool, name, size);
        return name;
    }

    public void Dispose()
    {
        _pool?.Dispose();
        _connection?.Dispose();
        if (_directory is null)
        {
            return;
        }

        Run(Path.Combine(s_scripts, "stop.sh"), [_directory], TimeSpan.FromMinutes(1));
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A daemon slow to die may still hold a file; the directory is under /tmp and says what it was.
        }
    }

    private static string? FindMissing()
    {
        foreach (var tool in new[] { "ceph-mon", "ceph-osd", "ceph", "monmaptool", "rbd", "uuidgen" })
        {
            if (!new[] { "/usr/bin", "/usr/sbin", "/bin", "/sbin" }.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
                    .Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, tool))))
            {
                return $"{tool} is not installed";
            }
        }

        foreach (var library in new[] { "librados.so.2", "librbd.so.1" })
        {
            if (!NativeLibrary.TryLoad(library, out var loaded))
            {
                return $"{library} cannot be loaded";
            }

            NativeLibrary.Free(loaded);
        }

        return null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static (int ExitCode, string Output) Run(string script, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{script} did not finish in {timeout.TotalSeconds} s\n{stderr.Result}");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}

[CollectionDefinition(Name)]
public sealed class CephCollection : ICollectionFixture<CephCluster>
{
    public const string Name = "ceph";
}
