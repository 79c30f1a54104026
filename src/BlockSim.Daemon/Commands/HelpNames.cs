using System.CommandLine;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// What --help shows after each option that takes a value: what to type (--listen &lt;ADDR:PORT[,tls=MODE]&gt;), as
/// man pages write it, not the option's own name again (--listen &lt;listen&gt;). Options not listed get their
/// name in capitals, the convention for a placeholder.
/// </summary>
internal static class HelpNames
{
    private static readonly Dictionary<string, string> s_names = new(StringComparer.Ordinal)
    {
        ["--config"] = "FILE",
        ["--data-dir"] = "DIR",
        ["--key-store"] = "DIR|etcd://HOST:PORT/PREFIX",
        ["--key-file"] = "FILE",
        ["--key-store-ca"] = "FILE",
        ["--key-store-cert"] = "FILE",
        ["--key-store-key"] = "FILE",
        ["--passphrase-file"] = "FILE",
        ["--new-passphrase-file"] = "FILE",
        ["--as"] = "PRINCIPAL",
        ["--control"] = "PATH|none",
        ["--ceph-conf"] = "FILE",
        ["--ceph-client"] = "client.NAME",
        ["--listen"] = "ADDR:PORT[,tls=MODE]",
        ["--socket"] = "PATH|none",
        ["--size"] = "SIZE",
        ["--metrics"] = "ADDR:PORT",
        ["--control-group"] = "GROUP",
        ["--tls-dir"] = "DIR",
        ["--tls-cert"] = "FILE",
        ["--tls-key"] = "FILE",
        ["--tls-ca"] = "FILE",
        ["--tls"] = "off|on|require",
        ["--pid-file"] = "FILE",
        ["--run"] = "CMD",
        ["--export"] = "NAME",
        ["--latency-ms"] = "MS",
        ["--jitter-ms"] = "MS",
        ["--fail-reads"] = "P",
        ["--fail-writes"] = "P",
        ["--bandwidth"] = "RATE",
        ["--provisioned-throughput"] = "RATE",
        ["--read-latency"] = "DISTRIBUTION",
        ["--write-latency"] = "DISTRIBUTION",
        ["--flush-latency"] = "DISTRIBUTION",
        ["--hdd"] = "default|SPEC",
        ["--ssd"] = "default|SPEC",
        ["--server"] = "HOST[:PORT]",
        ["--ca"] = "FILE",
        ["--cert"] = "FILE",
        ["--key"] = "KEY",
        ["--log"] = "FILE",
        ["--base"] = "IMAGE",
        ["--check"] = "CMD",
        ["--report"] = "PATH",
        ["--context"] = "FIELD=VALUE",
        ["--principal"] = "PRINCIPAL",
        ["--grantee"] = "PRINCIPAL",
        ["--retiring-principal"] = "PRINCIPAL",
        ["--client"] = "NAME",
        ["--operation"] = "OPERATION",
        ["--action"] = "ACTION",
        ["--description"] = "TEXT",
        ["--alias"] = "alias/NAME",
        ["--server-name"] = "NAME",
        ["--source-address"] = "ADDRESS",
        ["--invoked-by"] = "SERVICE",
    };

    /// <summary>Names every value-taking option of <paramref name="command"/> and its subcommands that has no help name yet.</summary>
    public static void Apply(Command command)
    {
        foreach (var option in command.Options)
        {
            if (option.HelpName is null && option.ValueType != typeof(bool))
            {
                option.HelpName = s_names.GetValueOrDefault(option.Name) ?? option.Name.TrimStart('-').ToUpperInvariant();
            }
        }

        foreach (var subcommand in command.Subcommands)
        {
            Apply(subcommand);
        }
    }
}
