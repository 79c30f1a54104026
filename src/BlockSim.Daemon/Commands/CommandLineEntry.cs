using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using BlockSim.Daemon.Service;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// Runs the parsed command line with exit codes scripts can rely on: a parse error (a missing value, an
/// unknown option, a number out of range) is a usage error (2), not System.CommandLine's 1, and an exception
/// no command expected is one line (type and message, no stack trace) with exit code 70 (EX_SOFTWARE).
/// </summary>
internal static class CommandLineEntry
{
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        if (parsed.Action is ParseErrorAction)
        {
            // What is wrong, one line each, and where the help is: not the whole help, which buries the error.
            foreach (var error in parsed.Errors)
            {
                Console.Error.WriteLine(error.Message);
            }

            Console.Error.WriteLine($"Run '{CommandPath(parsed.CommandResult)} --help' for its commands and options.");
            return ExitCodes.Usage;
        }

        ProgressReporter.Disabled = parsed.GetValue(CliContext.NoProgress);

        // No termination handling by System.CommandLine: `serve` stops gracefully through the host (SIGTERM,
        // SIGINT), whose flush and key zeroing must not be cut short by a fixed timeout; other commands just end.
        var configuration = new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false };
        try
        {
            return await parsed.InvokeAsync(configuration).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message} (this is a bug in blocksim; please report it with the command line)");
            return ExitCodes.Internal;
        }
    }

    /// <summary>The command as typed, from the program's name down: "blocksim volume create".</summary>
    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (SymbolResult? at = command; at is CommandResult level; at = level.Parent)
        {
            names.Insert(0, level.Command.Name);
        }

        return string.Join(' ', names);
    }

    /// <summary>Refuses, at parse time, an integer option outside [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static T InRange<T>(this T option, int min, int max)
        where T : Option
    {
        option.Validators.Add(result =>
        {
            if (Given(result) is { } value && (value < min || value > max))
            {
                result.AddError($"{option.Name} {value}: give {min} to {max}.");
            }
        });
        return option;
    }

    /// <summary>
    /// Refuses, at parse time, a number outside <paramref name="range"/>, NaN and the infinities included (the
    /// parser takes "NaN" and "1e30" for a double), in the words the configuration file's check uses.
    /// </summary>
    public static T InRange<T>(this T option, NumberRange range)
        where T : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0
                && double.TryParse(result.Tokens[^1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                && !range.Contains(value))
            {
                result.AddError(range.Refusal(option.Name, result.Tokens[^1].Value));
            }
        });
        return option;
    }

    /// <summary>Refuses, at parse time, a size (4096, 64K, 1G) outside <paramref name="range"/> or that is not one.</summary>
    public static Option<string?> InRange(this Option<string?> option, SizeRange range)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && range.Problem(option.Name, result.Tokens[^1].Value) is { } problem)
            {
                result.AddError(problem);
            }
        });
        return option;
    }

    /// <summary>Refuses, at parse time, an integer option not among <paramref name="allowed"/>.</summary>
    public static T OneOf<T>(this T option, params int[] allowed)
        where T : Option<int>
    {
        option.HelpName ??= string.Join('|', allowed);
        option.Validators.Add(result =>
        {
            if (Given(result) is { } value && !allowed.Contains(value))
            {
                result.AddError($"{option.Name} {value}: give {string.Join(" or ", allowed)}.");
            }
        });
        return option;
    }

    /// <summary>
    /// The value typed, or null when none was (the default applies) or it is not a number: the parser reports
    /// that itself, and asking for the value here would throw instead.
    /// </summary>
    private static int? Given(System.CommandLine.Parsing.OptionResult result) =>
        result.Tokens.Count > 0 && int.TryParse(result.Tokens[^1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
}
