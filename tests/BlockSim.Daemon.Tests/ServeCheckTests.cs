using System.Text.Json;
using BlockSim.Storage.Tests;

namespace BlockSim.Daemon.Tests;

/// <summary>
/// The management commands read the daemon's configuration file (--config) for where its data is, so what a
/// start-up error tells the user to run acts on that daemon's data; and serve --check says whether serve would
/// start, binding, unsealing and creating nothing.
/// </summary>
public class ServeCheckTests
{
    [Fact]
    public async Task Management_commands_act_on_the_data_directory_the_configuration_names()
    {
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp.File("etc"));
        File.WriteAllText(temp.File("etc/blocksim.json"), """{ "dataDir": "../srv-data", "exports": { "db": { "volume": "db" } } }""");

        // serve on a missing volume says how to create it, with the configuration, not the default directory.
        var refused = await Cli.RunAsync(temp.Path, "serve", "--config", "etc/blocksim.json", "--listen", "127.0.0.1:0", "--socket", "none");
        Assert.Equal(2, refused.Exit);
        Assert.Contains("Create it first: blocksim volume create db --size 10G --config etc/blocksim.json", refused.Output);

        var created = await Cli.RunAsync(temp.Path, "volume", "create", "db", "--size", "16M", "--config", "etc/blocksim.json");
        Assert.True(created.Exit == 0, created.Output);
        Assert.True(File.Exists(temp.File("srv-data/volumes/db.vol")));
        Assert.False(Directory.Exists(temp.File("blocksim-data"))); // not the default directory

        var listed = await Cli.RunApartAsync(temp.Path, "--json", "volume", "list", "--config", "etc/blocksim.json");
        Assert.Equal("db", Assert.Single(JsonDocument.Parse(listed.StandardOutput).RootElement.EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "key", "list", "--config", "etc/blocksim.json")).Exit);

        // A flag given wins over the file.
        Assert.Equal(3, (await Cli.RunAsync(temp.Path, "volume", "list", "--config", "etc/blocksim.json", "--data-dir", temp.File("elsewhere"))).Exit);
    }

    [Fact]
    public async Task A_configuration_serve_would_refuse_is_refused_by_management_commands_naming_its_key()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("bad.json"), """{ "limits": { "maxConnections": "lots" } }""");
        var (exit, output) = await Cli.RunAsync(temp.Path, "key", "list", "--config", "bad.json");
        Assert.Equal(2, exit);
        Assert.Contains("limits.maxConnections lots: give 1 to", output);
        Assert.Equal(2, (await Cli.RunAsync(temp.Path, "volume", "list", "--config", "missing.json")).Exit);
    }

    [Fact]
    public async Task Check_on_a_fresh_directory_says_what_the_first_serve_makes_and_makes_none_of_it()
    {
        using var temp = new TempDirectory();
        var (exit, standardOutput, output) = await Cli.RunApartAsync(temp.Path, "--json", "serve", "--check");
        Assert.True(exit == 0, output);
        var report = JsonDocument.Parse(standardOutput).RootElement;
        Assert.True(report.GetProperty("ok").GetBoolean());
        Assert.StartsWith("none yet", report.GetProperty("keyStore").GetString());
        var export = Assert.Single(report.GetProperty("exports").EnumerateArray());
        Assert.Equal("default", export.GetProperty("name").GetString());
        Assert.StartsWith("created at the first serve", export.GetProperty("state").GetString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path)); // no data directory, store, key file or socket
    }

    [Fact]
    public async Task Check_reads_each_exports_volume_and_the_stores_slots_without_unsealing_or_binding()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "volume", "create", "db", "--size", "32M")).Exit);
        var auditBefore = File.ReadAllText(temp.File("blocksim-data/keystore/audit.jsonl"));
        using var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start(); // serve could not bind it; a check does not try
        var port = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
        File.WriteAllText(temp.File("blocksim.json"), $$"""{ "listen": ["127.0.0.1:{{port}}"], "exports": { "db": {}, "scratch": { "memory": true, "size": "64M" } } }""");

        var (exit, standardOutput, output) = await Cli.RunApartAsync(temp.Path, "serve", "--check", "--config", "blocksim.json");
        Assert.True(exit == 0, output);
        Assert.Contains("configuration OK: ", standardOutput);
        Assert.Contains("export db: volume db, 32 MiB (key ", standardOutput);
        Assert.Contains("export scratch: memory, 64 MiB (not encrypted)", standardOutput);
        Assert.Contains($"listen: 127.0.0.1:{port}", standardOutput);
        Assert.Contains("opens with its key file", standardOutput);
        Assert.Equal(auditBefore, File.ReadAllText(temp.File("blocksim-data/keystore/audit.jsonl"))); // not opened: no OpenKeyStore record
        Assert.False(File.Exists(temp.File("blocksim-data/nbd.sock")));
    }

    [Fact]
    public async Task Check_names_every_problem_and_exits_as_serve_would()
    {
        using var temp = new TempDirectory();
        Assert.Equal(0, (await Cli.RunAsync(temp.Path, "keystore", "init")).Exit);
        File.WriteAllText(temp.File("missing.json"), """{ "exports": { "gone": { "volume": "gone" } } }""");
        var missing = await Cli.RunApartAsync(temp.Path, "--json", "serve", "--check", "--config", "missing.json");
        Assert.Equal(3, missing.Exit);
        var report = JsonDocument.Parse(missing.StandardOutput).RootElement;
        Assert.False(report.GetProperty("ok").GetBoolean());
        Assert.Contains("Create it first: blocksim volume create gone --size 10G --config missing.json", Assert.Single(report.GetProperty("problems").EnumerateArray()).GetString());

        File.WriteAllText(temp.File("tls.json"), """{ "tls": { "directory": "no-such-credentials" }, "exports": { "gone": { "volume": "gone" } } }""");
        var both = await Cli.RunApartAsync(temp.Path, "serve", "--check", "--config", "tls.json");
        Assert.Equal(2, both.Exit); // the usage error first, as serve stops at it first
        Assert.Contains("configuration NOT OK", both.StandardOutput);
        Assert.Contains("PROBLEM: tls: ", both.StandardOutput);
        Assert.Contains("PROBLEM: Export 'gone'", both.StandardOutput);

        File.Delete(temp.File("blocksim-data/keystore.key"));
        var locked = await Cli.RunApartAsync(temp.Path, "serve", "--check");
        Assert.Equal(3, locked.Exit);
        Assert.Contains("serve opens the store with its key file", locked.StandardOutput);
    }
}
