using System.Text.Json;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// What scripts and people read: --json is one document on standard output for every command, in camelCase
/// (as the audit records and the admin API), and lists for people are tables with a header, aligned columns
/// and binary sizes.
/// </summary>
public class CliOutputTests
{
    [Fact]
    public async Task Every_command_answers_json_in_camel_case_on_standard_output_alone()
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(temp.File("image.raw"), [.. Enumerable.Range(0, 1 << 20).Select(i => (byte)i)]);
        string[][] commands =
        [
            ["info"],
            ["keystore", "init"],
            ["keystore", "slot", "list"],
            ["volume", "create", "v", "--size", "4M"],
            ["volume", "list"],
            ["volume", "info", "v"],
            ["volume", "import", "v", "image.raw"],
            ["volume", "export", "v", "out.raw"],
            ["volume", "resize", "v", "--size", "8M"],
            ["volume", "rewrap", "v"],
            ["volume", "snapshot", "create", "v@one"],
            ["volume", "snapshot", "list", "v"],
            ["volume", "snapshot", "delete", "v@one", "--yes"],
            ["key", "create", "--description", "for the test", "--alias", "alias/t"],
            ["key", "list"],
            ["key", "describe", "alias/t"],
            ["key", "rotate", "alias/t"],
            ["policy", "get", "alias/t"],
            ["policy", "test", "alias/t", "--principal", "user:nobody", "--action", "Decrypt"],
            ["grant", "create", "alias/t", "--grantee", "user:alice", "--operation", "Decrypt"],
            ["grant", "list", "alias/t"],
            ["audit", "verify"],
            ["tls", "init", "creds", "--client", "alice"],
            ["tls", "client", "creds", "bob"],
            ["volume", "delete", "v", "--yes"],
        ];

        foreach (var command in commands)
        {
            var (exit, standardOutput, output) = await Cli.RunApartAsync(temp.Path, ["--json", .. command]);
            var what = string.Join(' ', command);
            Assert.True(exit is 0 or 4, $"{what}: exit {exit}\n{output}"); // policy test of a stranger is 4, denied
            JsonElement document;
            try
            {
                document = JsonDocument.Parse(standardOutput).RootElement;
            }
            catch (JsonException e)
            {
                throw new Xunit.Sdk.XunitException($"{what}: standard output is not one JSON document ({e.Message}):\n{standardOutput}");
            }

            AssertCamelCase(document, what, "$");
        }
    }

    [Fact]
    public async Task Json_names_what_each_command_acted_on()
    {
        using var temp = new TempDirectory();
        await Ok(temp, "volume", "create", "v", "--size", "4M");
        var grant = await Json(temp, "grant", "create", "alias/blocksim/default", "--grantee", "user:alice", "--operation", "Decrypt");
        var grantId = grant.GetProperty("grantId").GetString()!;
        Assert.Equal(grantId, (await Json(temp, "grant", "retire", grantId)).GetProperty("grantId").GetString());
        var policy = await Json(temp, "policy", "get", "alias/blocksim/default");
        Assert.Equal(JsonValueKind.Array, policy.GetProperty("policy").GetProperty("Statement").ValueKind); // the document, not a string of it
        var tested = await Cli.RunApartAsync(temp.Path, "--json", "policy", "test", "alias/blocksim/default", "--principal", "user:nobody", "--action", "Decrypt");
        Assert.Equal(4, tested.Exit);
        Assert.False(JsonDocument.Parse(tested.StandardOutput).RootElement.GetProperty("allowed").GetBoolean());
        var deleted = await Json(temp, "volume", "delete", "v", "--yes");
        Assert.Equal("v", deleted.GetProperty("name").GetString());
        Assert.Single(deleted.GetProperty("retiredGrants").EnumerateArray()); // the daemon's grant for the volume
        var info = await Json(temp, "info");
        Assert.DoesNotContain("\\u002B", info.GetProperty("version").GetRawText()); // '+' as itself
        Assert.Contains(info.GetProperty("xtsTier").GetString(), info.GetProperty("supportedTiers").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task Lists_for_people_are_tables_with_a_header_and_binary_sizes()
    {
        using var temp = new TempDirectory();
        await Ok(temp, "volume", "create", "small", "--size", "16M");
        await Ok(temp, "volume", "create", "a-much-longer-name", "--size", "2G", "--sector-size", "512");
        var volumes = Lines((await Cli.RunApartAsync(temp.Path, "volume", "list")).StandardOutput);
        Assert.Equal(3, volumes.Length);
        Assert.Matches("^NAME +SIZE +SECTOR +KEY +STATE$", volumes[0]);
        Assert.Matches(@"^a-much-longer-name +2 GiB +512 +\S+ v1 +ok$", volumes[1]);
        Assert.Matches(@"^small +16 MiB +4096 +\S+ v1 +ok$", volumes[2]);
        AssertAligned(volumes, "SIZE", rightAligned: true);
        AssertAligned(volumes, "KEY", rightAligned: false);

        await Ok(temp, "key", "create", "--description", "second", "--alias", "alias/second");
        var keys = Lines((await Cli.RunApartAsync(temp.Path, "key", "list")).StandardOutput);
        Assert.Equal(3, keys.Length);
        Assert.Matches("^KEY ID +STATE +VERSION +ALIASES +DESCRIPTION$", keys[0]);
        Assert.Contains(keys, k => k.Contains("alias/second") && k.EndsWith("  second", StringComparison.Ordinal));
        AssertAligned(keys, "ALIASES", rightAligned: false);

        Assert.Contains("capacity: 16 MiB (16777216 bytes)", (await Cli.RunApartAsync(temp.Path, "volume", "info", "small")).StandardOutput);
        var grants = Lines((await Cli.RunApartAsync(temp.Path, "grant", "list", "alias/second")).StandardOutput);
        Assert.Equal(["No grants."], grants);
    }

    private static void AssertCamelCase(JsonElement element, string command, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Assert.True(char.IsLower(property.Name[0]), $"{command}: {path}.{property.Name} is not camelCase");
                    if (property.Name is "policy" or "requestsByKind")
                    {
                        continue; // a key policy is AWS's document (Statement, Effect, ...); request kinds are data
                    }

                    AssertCamelCase(property.Value, command, $"{path}.{property.Name}");
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    AssertCamelCase(item, command, $"{path}[{index++}]");
                }

                break;
        }
    }

    /// <summary>Every row's cell in the column starts (or, right-aligned, ends) where the header's title does.</summary>
    private static void AssertAligned(string[] lines, string title, bool rightAligned)
    {
        var start = lines[0].IndexOf(title, StringComparison.Ordinal);
        foreach (var row in lines[1..])
        {
            if (rightAligned)
            {
                var end = start + title.Length;
                Assert.True(row[end - 1] != ' ' && row[end] == ' ', $"'{row}' is not right-aligned under {title}");
            }
            else
            {
                Assert.True(row[start - 1] == ' ' && row[start] != ' ', $"'{row}' does not start under {title}");
            }
        }
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static async Task Ok(TempDirectory temp, params string[] arguments)
    {
        var (exit, output) = await Cli.RunAsync(temp.Path, arguments);
        Assert.True(exit == 0, output);
    }

    private static async Task<JsonElement> Json(TempDirectory temp, params string[] arguments)
    {
        var (exit, standardOutput, output) = await Cli.RunApartAsync(temp.Path, ["--json", .. arguments]);
        Assert.True(exit == 0, output);
        return JsonDocument.Parse(standardOutput).RootElement;
    }
}
