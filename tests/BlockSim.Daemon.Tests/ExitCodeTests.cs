using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// Exit codes as the README's table gives them, for the cases a new user met first: a parse error says what is
/// wrong in one line and where the help is (exit 2, not the whole help); a missing data directory is 3 for
/// volume list as for key list; credentials that are there already are a usage error (2) for tls init as a
/// store is for keystore init.
/// </summary>
public class ExitCodeTests
{
    [Theory]
    [InlineData(new[] { "--bogus" }, "Unrecognized command or argument '--bogus'", "blocksim --help")]
    [InlineData(new string[0], "Required command was not provided", "blocksim --help")]
    [InlineData(new[] { "volume" }, "Required command was not provided", "blocksim volume --help")]
    [InlineData(new[] { "volume", "create", "v", "--size" }, "Required argument missing for option: '--size'", "blocksim volume create --help")]
    [InlineData(new[] { "keystore", "slot", "remove", "one" }, "Cannot parse argument 'one'", "blocksim keystore slot remove --help")]
    public async Task A_parse_error_is_one_line_and_where_the_help_is(string[] arguments, string error, string help)
    {
        using var temp = new TempDirectory();
        var (exit, output) = await Cli.RunAsync(temp.Path, arguments);
        Assert.Equal(2, exit);
        Assert.Contains(error, output);
        Assert.Contains($"Run '{help}' for its commands and options.", output);
        Assert.DoesNotContain("Description:", output); // the help is not dumped
        Assert.True(output.Trim().Split('\n').Length <= 3, output);
    }

    [Fact]
    public async Task Help_still_answers_with_exit_0()
    {
        using var temp = new TempDirectory();
        var (exit, output) = await Cli.RunAsync(temp.Path, "keystore", "slot", "add", "kmip", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--object-id", output);
    }

    [Fact]
    public async Task Volume_list_on_a_missing_data_directory_is_not_found_as_key_list_is()
    {
        using var temp = new TempDirectory();
        var missing = temp.File("nonexistent");
        var volumes = await Cli.RunAsync(temp.Path, "volume", "list", "--data-dir", missing);
        Assert.Equal(3, volumes.Exit);
        Assert.Contains($"No data directory {missing}", volumes.Output);
        Assert.Equal(3, (await Cli.RunAsync(temp.Path, "key", "list", "--data-dir", missing)).Exit);
        Assert.False(Directory.Exists(missing));
    }

    [Fact]
    public async Task Tls_init_on_credentials_already_there_is_a_usage_error_and_touches_nothing()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "tls", "init", "creds")).Exit);
        var before = File.ReadAllBytes(temp.File("creds/server-key.pem"));
        var again = await Cli.RunAsync(temp.Path, "tls", "init", "creds");
        Assert.Equal(2, again.Exit);
        Assert.Contains("already exists; 'tls init' never overwrites credentials", again.Output);
        Assert.Equal(before, File.ReadAllBytes(temp.File("creds/server-key.pem")));
    }
}
