using System.Diagnostics;
using System.Text.Json;
using BlockSim.Interop.Tests;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// Callers are who the kernel says: while a daemon serves the store, key commands go through its admin socket,
/// which names the caller from SO_PEERCRED; --as remains only offline, recorded as impersonation; the daemon's
/// own principal can never be claimed.
/// </summary>
public class AdminSocketTests
{
    [Fact]
    public async Task While_a_daemon_runs_key_commands_go_through_its_socket_and_are_recorded_with_the_callers_uid()
    {
        using var temp = new TempDirectory();
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--size", "1M");
        await daemon.PortAsync();
        var socket = Path.Combine(temp.Path, "blocksim-data", "admin.sock");
        Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(socket) & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute));
        var created = await KeyStoreCliTests.Cli(temp.Path, "key", "create", "--alias", "alias/through-socket");
        Assert.True(created.Exit == 0, created.Output);

        var record = LastRecord(temp.Path);
        Assert.Equal("CreateKey", record.GetProperty("eventName").GetString());
        Assert.Equal($"user:{Environment.UserName}", record.GetProperty("userIdentity").GetProperty("principal").GetString());
        Assert.StartsWith($"SO_PEERCRED uid={Getuid()} pid=", record.GetProperty("userIdentity").GetProperty("authenticatedBy").GetString());
        Assert.Contains("Admin socket", daemon.Output);
    }

    [Fact]
    public async Task Claiming_another_principal_at_the_socket_is_refused_and_audited()
    {
        using var temp = new TempDirectory();
        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--size", "1M");
        await daemon.PortAsync();

        foreach (var claimed in new[] { "blocksim-daemon", "user:nobody" })
        {
            var refused = await KeyStoreCliTests.Cli(temp.Path, "key", "disable", "alias/blocksim/default", "--as", claimed);
            Assert.Equal(4, refused.Exit);
            Assert.Contains($"asked to act as {claimed}", refused.Output);
            var record = LastRecord(temp.Path);
            Assert.Equal("DisableKey", record.GetProperty("eventName").GetString());
            Assert.Equal("AccessDeniedException", record.GetProperty("errorCode").GetString());
            Assert.Equal($"user:{Environment.UserName}", record.GetProperty("userIdentity").GetProperty("principal").GetString());
        }

        Assert.DoesNotContain("Disabled", (await KeyStoreCliTests.Cli(temp.Path, "key", "list")).Output);
    }

    [Fact]
    public async Task Offline_as_is_recorded_as_impersonation_and_the_daemons_principal_is_never_claimable()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "v1", "--size", "1M")).Exit);

        var impersonated = await KeyStoreCliTests.Cli(temp.Path, "key", "describe", "alias/blocksim/default", "--as", "user:bob");
        Assert.Equal(4, impersonated.Exit); // bob is not in the default policy
        var record = LastRecord(temp.Path).GetProperty("userIdentity");
        Assert.Equal("Impersonation", record.GetProperty("type").GetString());
        Assert.Equal("user:bob", record.GetProperty("principal").GetString());
        Assert.Equal($"user:{Environment.UserName}", record.GetProperty("impersonatedBy").GetString());

        var export = temp.File("out.img");
        var daemonClaim = await KeyStoreCliTests.Cli(temp.Path, "volume", "export", "v1", export, "--as", "blocksim-daemon");
        Assert.Equal(4, daemonClaim.Exit);
        Assert.False(File.Exists(export));
        var refusal = LastRecord(temp.Path);
        Assert.Equal("Impersonate", refusal.GetProperty("eventName").GetString());
        Assert.Contains("blocksim-daemon", refusal.GetProperty("errorMessage").GetString());
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "audit", "verify")).Exit);
    }

    [SkippableFact]
    public async Task A_second_OS_user_in_the_sockets_group_is_named_by_its_own_uid()
    {
        RequireRootWith("useradd", "groupadd", "setpriv");
        var suffix = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var group = $"bsadm{suffix}";
        var user = $"bsusr{suffix}";
        using var temp = new TempDirectory();
        File.SetUnixFileMode(temp.Path, (UnixFileMode)0x1c9); // 0711: the other user may pass through to the data directory
        try
        {
            Assert.Equal(0, (await ExternalTool.RunAsync("groupadd", [group])).ExitCode);
            Assert.Equal(0, (await ExternalTool.RunAsync("useradd", ["-M", "-N", "-G", group, user])).ExitCode);
            await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--listen", "127.0.0.1:0", "--size", "1M", "--control-group", group);
            await daemon.PortAsync();
            await daemon.WaitForOutputAsync($"group '{group}'"); // logged as the admin socket opens, which may be after the NBD listener

            var (exit, output) = await AsUser(user, temp.Path, "key", "disable", "alias/blocksim/default");
            Assert.True(exit == 4, output); // the default policy is for its administrator only
            var record = LastRecord(temp.Path);
            Assert.Equal($"user:{user}", record.GetProperty("userIdentity").GetProperty("principal").GetString());
            Assert.StartsWith($"SO_PEERCRED uid={(await ExternalTool.RunAsync("id", ["-u", user])).Output.Trim()} ", record.GetProperty("userIdentity").GetProperty("authenticatedBy").GetString());
            Assert.Equal("AccessDeniedException", record.GetProperty("errorCode").GetString());
        }
        finally
        {
            await ExternalTool.RunAsync("userdel", [user]);
            await ExternalTool.RunAsync("groupdel", [group]);
        }
    }

    private static JsonElement LastRecord(string directory)
    {
        var log = Path.Combine(directory, "blocksim-data", "keystore", "audit.jsonl");
        return JsonDocument.Parse(File.ReadAllLines(log).Last(l => l.Length > 0)).RootElement.Clone();
    }

    private static async Task<(int Exit, string Output)> AsUser(string user, string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("setpriv") { UseShellExecute = false, WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { $"--reuid={user}", "--regid=users", "--init-groups", "env", "HOME=/tmp", "dotnet", Path.Combine(AppContext.BaseDirectory, "blocksim.dll") }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output + await error);
    }

    private static void RequireRootWith(params string[] programs)
    {
        var reason = Getuid() != 0 ? "this test adds an OS user and must run as root"
            : programs.FirstOrDefault(p => ExternalTool.Find(p) is null) is { } missing ? $"{missing} is not installed (Debian packages passwd, util-linux)"
            : null;
        if (reason is not null && Environment.GetEnvironmentVariable(ExternalTool.RequireVariable) == "1")
        {
            Assert.Fail($"{reason}, and {ExternalTool.RequireVariable}=1 requires it to run.");
        }

        Skip.If(reason is not null, reason);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getuid")]
    private static extern uint Getuid();
}
