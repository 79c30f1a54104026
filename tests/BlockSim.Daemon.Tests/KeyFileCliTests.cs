using System.Security.Cryptography;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The key file beside the store, as <c>serve</c> and the offline commands meet it. A reviewer deleted
/// <c>keystore.key</c>: <c>serve</c> wrote a new random one, then said the directory "already holds a key
/// store", and every later run said the key file does not open it. And <c>chmod 644</c> was accepted while
/// event 4002 still said "(mode 0600)".
/// </summary>
public class KeyFileCliTests
{
    private static readonly string[][] s_openers =
    [
        ["serve", "--socket", "none", "--listen", "127.0.0.1:0"],
        ["volume", "create", "w", "--size", "1M"],
        ["key", "list"],
        ["audit", "verify"],
    ];

    [Fact]
    public async Task A_missing_key_file_beside_an_existing_store_is_an_error_and_nothing_is_written()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        var data = Path.Combine(temp.Path, "blocksim-data");
        var keyFile = Path.Combine(data, "keystore.key");
        File.Delete(keyFile);
        var before = Snapshot(data);

        foreach (var arguments in s_openers)
        {
            var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, arguments);
            var what = $"blocksim {string.Join(' ', arguments)}: exit {exit}{Environment.NewLine}{output}";
            Assert.True(exit == 3, what);
            Assert.True(output.Contains($"The key file {keyFile} is missing", StringComparison.Ordinal), what);
            Assert.True(output.Contains("cannot be opened without it", StringComparison.Ordinal), what);
            Assert.DoesNotContain("already holds a key store", output);
            Assert.DoesNotContain("   at ", output);
            Assert.Equal(before, Snapshot(data)); // no new key file, no new store, nothing else
        }
    }

    [Fact]
    public async Task A_key_file_others_can_read_is_refused_by_every_command_with_its_mode_and_the_fix()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        var keyFile = Path.Combine(temp.Path, "blocksim-data", "keystore.key");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        foreach (var arguments in s_openers)
        {
            var (exit, output) = await KeyStoreCliTests.Cli(temp.Path, arguments);
            var what = $"blocksim {string.Join(' ', arguments)}: exit {exit}{Environment.NewLine}{output}";
            Assert.True(exit == 4, what);
            Assert.True(output.Contains($"{keyFile} has mode 0644", StringComparison.Ordinal), what);
            Assert.True(output.Contains($"chmod 600 {keyFile}", StringComparison.Ordinal), what);
            Assert.DoesNotContain("mode 0600", output);
            Assert.DoesNotContain("   at ", output);
        }
    }

    [Fact]
    public async Task The_start_up_warning_states_the_key_files_real_mode()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await KeyStoreCliTests.Cli(temp.Path, "volume", "create", "v", "--size", "1M")).Exit);
        var keyFile = Path.Combine(temp.Path, "blocksim-data", "keystore.key");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead);

        await using var daemon = DaemonProcess.Start(temp.Path, "serve", "--socket", "none", "--listen", "127.0.0.1:0");
        await daemon.PortAsync();
        Assert.Contains($"sealed by the key file {keyFile} (mode 0400)", daemon.Output);
    }

    /// <summary>Every file under the directory with a hash of its contents.</summary>
    private static string Snapshot(string directory) => string.Join(Environment.NewLine, Directory
        .GetFiles(directory, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(path => $"{Path.GetRelativePath(directory, path)} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))}"));
}
