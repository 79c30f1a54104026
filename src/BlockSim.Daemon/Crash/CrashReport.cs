using System.Globalization;
using System.Text;
using System.Text.Json;

namespace BlockSim.Daemon.Crash;

/// <summary>
/// What an exploration found, written as JSON (for tools) and Markdown (for people) beside each other: what
/// was explored and how fast, and for each failed state its recipe, the shrunk recipe that <c>crash replay</c>
/// turns back into a failing state, and the end of the checker's output.
/// </summary>
internal static class CrashReport
{
    public static (string Json, string Markdown) Write(string path, string log, string image, string strategy, string check, IReadOnlyList<StateOutcome> outcomes, TimeSpan took)
    {
        var failures = outcomes.Where(o => !o.Check.Passed).ToList();
        var perMinute = took.TotalMinutes > 0 ? outcomes.Count / took.TotalMinutes : 0;
        var report = new
        {
            log,
            @base = image,
            strategy,
            check,
            states = outcomes.Count,
            passed = outcomes.Count - failures.Count,
            failed = failures.Count,
            seconds = Math.Round(took.TotalSeconds, 1),
            statesPerMinute = Math.Round(perMinute, 1),
            failures = failures.Select(f => new
            {
                state = f.Number,
                recipe = f.Recipe.ToString(),
                shrunk = f.Shrunk?.ToString(),
                note = f.ShrinkNote,
                exitCode = f.Check.ExitCode,
                output = f.Check.Output,
                replay = $"blocksim crash replay {f.Shrunk ?? f.Recipe} --log {log} --base {image} --check '{check}'",
            }),
        };

        var json = path + ".json";
        var markdown = path + ".md";
        File.WriteAllText(json, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(markdown, Markdown(log, image, strategy, check, outcomes.Count, failures, took, perMinute));
        return (json, markdown);
    }

    private static string Markdown(string log, string image, string strategy, string check, int states, List<StateOutcome> failures, TimeSpan took, double perMinute)
    {
        var text = new StringBuilder();
        var invariant = CultureInfo.InvariantCulture;
        text.AppendLine("# Crash-state exploration").AppendLine()
            .AppendLine(invariant, $"- log: `{log}`, base: `{image}`")
            .AppendLine(invariant, $"- states: {strategy}; checker: `{check}`")
            .AppendLine(invariant, $"- **{states} states, {states - failures.Count} passed, {failures.Count} failed** in {took.TotalSeconds:0.0} s ({perMinute:0.0} states a minute)")
            .AppendLine();
        foreach (var failure in failures)
        {
            text.AppendLine(invariant, $"## State {failure.Number}: exit {(failure.Check.ExitCode?.ToString(invariant) ?? "none (timed out)")}").AppendLine()
                .AppendLine(invariant, $"- recipe: `{failure.Recipe}`")
                .AppendLine(invariant, $"- shrunk: `{failure.Shrunk?.ToString() ?? failure.ShrinkNote ?? "not shrunk"}`")
                .AppendLine(invariant, $"- replay: `blocksim crash replay {failure.Shrunk ?? failure.Recipe} --log {log} --base {image} --check '{check}'`")
                .AppendLine().AppendLine("```").AppendLine(failure.Check.Output.TrimEnd()).AppendLine("```").AppendLine();
        }

        return text.ToString();
    }
}
