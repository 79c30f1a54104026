using System.CommandLine;
using System.Text;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim man</c>: the manual page (roff, section 1), written from the same command tree --help reads,
/// so it cannot say other than the help does; deploy/blocksim.1 is its output, checked equal by a test.
/// </summary>
internal static class ManPage
{
    public static Command Create(RootCommand root)
    {
        var command = new Command("man", "Print the manual page (roff): blocksim man > blocksim.1; man -l blocksim.1.");
        command.SetAction(_ =>
        {
            Console.Write(Write(root));
            return ExitCodes.Ok;
        });
        return command;
    }

    public static string Write(RootCommand root)
    {
        var text = new StringBuilder();
        text.Append(".TH BLOCKSIM 1 \"\" \"BlockSim\" \"BlockSim Manual\"\n");
        text.Append(".SH NAME\nblocksim \\- ").Append(Escape(root.Description ?? "")).Append('\n');
        text.Append(".SH SYNOPSIS\n.B blocksim\n.I COMMAND\n[\\fISUBCOMMAND\\fR...] [\\fIOPTIONS\\fR]\n");
        text.Append(".SH DESCRIPTION\n")
            .Append("Serves block devices over NBD, each sector encrypted with XTS\\-AES\\-256 under keys from a sealed key store, ")
            .Append("and simulates disks that are slow, full, failing or lose power. With no configuration,\n")
            .Append(".B blocksim serve\nserves a 1 GiB encrypted volume from ./blocksim\\-data on 127.0.0.1:10809.\n");
        text.Append(".SH COMMANDS\n");
        foreach (var command in root.Subcommands.Where(c => !c.Hidden))
        {
            Describe(text, command, "blocksim");
        }

        text.Append(".SH GLOBAL OPTIONS\nEvery command takes these.\n");
        foreach (var option in root.Options.Where(o => !o.Hidden && o.Recursive))
        {
            Option(text, option);
        }

        text.Append(".SH EXIT STATUS\n");
        foreach (var (code, meaning) in new[]
        {
            ("0", "success"),
            ("2", "a usage error: a missing, unknown or out-of-range argument, a bad configuration, something already there, or not confirmed"),
            ("3", "not found: a volume, key, store, key file, or a daemon to ask"),
            ("4", "denied: a policy, a disabled or deleted key, a wrong passphrase"),
            ("5", "an I/O failure, an audit record or store that cannot be written included"),
            ("70", "an internal error (a bug), reported in one line"),
        })
        {
            text.Append(".TP\n.B ").Append(code).Append('\n').Append(Escape(meaning)).Append('\n');
        }

        text.Append(".SH ENVIRONMENT\n.TP\n.B BLOCKSIM_PASSPHRASE\nUnseals the key store through a passphrase slot.\n")
            .Append(".TP\n.B BLOCKSIM__SECTION__KEY\nA configuration setting, over the file's (e.g. BLOCKSIM__LIMITS__MAXCONNECTIONS).\n")
            .Append(".TP\n.B BLOCKSIM_XTS_TIER\nThe XTS implementation: auto, vaes512, vaes256x, vaes256, aesni or software.\n");
        text.Append(".SH SEE ALSO\n.BR nbdkit (1),\n.BR qemu-nbd (8),\n.BR nbd-client (8),\n.BR nbdinfo (1),\n.BR blocksim-load (1)\n");
        return text.ToString();
    }

    private static void Describe(StringBuilder text, Command command, string parent)
    {
        var path = $"{parent} {command.Name}";
        if (command.Subcommands.Count > 0 && command.Action is null)
        {
            foreach (var subcommand in command.Subcommands.Where(c => !c.Hidden))
            {
                Describe(text, subcommand, path);
            }

            return;
        }

        var arguments = string.Concat(command.Arguments.Where(a => !a.Hidden).Select(a => a.Arity.MinimumNumberOfValues == 0 ? $" [{a.Name.ToUpperInvariant()}]" : $" {a.Name.ToUpperInvariant()}"));
        text.Append(".SS \"").Append(Escape(path + arguments)).Append("\"\n").Append(Escape(command.Description ?? "")).Append('\n');
        foreach (var argument in command.Arguments.Where(a => !a.Hidden && !string.IsNullOrEmpty(a.Description)))
        {
            text.Append(".TP\n.I ").Append(Escape(argument.Name.ToUpperInvariant())).Append('\n').Append(Escape(argument.Description!)).Append('\n');
        }

        foreach (var option in command.Options.Where(o => !o.Hidden && !o.Recursive && o.Name is not "--help"))
        {
            Option(text, option);
        }

        foreach (var subcommand in command.Subcommands.Where(c => !c.Hidden))
        {
            Describe(text, subcommand, path);
        }
    }

    private static void Option(StringBuilder text, Option option)
    {
        var names = string.Join(", ", option.Aliases.Where(a => a != option.Name).Prepend(option.Name).Select(n => $"\\fB{Escape(n)}\\fR"));
        var value = option.ValueType == typeof(bool) || option.HelpName is null ? "" : $" \\fI{Escape(option.HelpName)}\\fR";
        text.Append(".TP\n").Append(names).Append(value).Append('\n').Append(Escape(option.Description ?? "")).Append('\n');
    }

    /// <summary>Text for roff: backslashes doubled, hyphens as \-, and a line that would start with a request made literal.</summary>
    private static string Escape(string value)
    {
        var escaped = value.Replace("\\", "\\e", StringComparison.Ordinal).Replace("-", "\\-", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
        return escaped.StartsWith('.') || escaped.StartsWith('\'') ? "\\&" + escaped : escaped;
    }
}
