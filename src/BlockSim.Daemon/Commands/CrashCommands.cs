using System.CommandLine;
using System.Globalization;
using BlockSim.Daemon.Crash;
using BlockSim.Daemon.Volumes;
using BlockSim.KeyStore;
using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Daemon.Commands;

/// <summary>
/// <c>blocksim crash explore|replay|show</c>: the crash-state explorer over a log <c>record</c> wrote. Each
/// state is built over the base image on a copy-on-write device, served read-only over NBD (export
/// <c>crash-N</c> on a Unix socket) and judged by the user's checker.
/// </summary>
internal static class CrashCommands
{
    public static Command Create()
    {
        var crash = new Command("crash", "Explore the states a power cut could leave after a recorded workload: explore, replay, show.");
        crash.Subcommands.Add(Explore());
        crash.Subcommands.Add(Replay());
        crash.Subcommands.Add(Show());
        return crash;
    }

    private static Command Explore()
    {
        var log = new Argument<string>("log") { Description = "The write log (record start/stop wrote it)." };
        var image = BaseOption();
        var states = new Option<string>("--states") { Description = "Which states, comma-separated: prefix (each crash point, completed writes kept), drop=N (every way of losing up to N unflushed writes), random=N (N random legal states).", DefaultValueFactory = _ => "prefix" };
        var tear = new Option<string>("--tear") { Description = "How writes in flight at the crash may survive in part: sector (default: any of the log's sectors, all the NBD protocol promises), BYTES (the disk's atomic write unit, e.g. 4096 for a 4Kn drive: only whole, aligned pieces of that size are lost) or none (whole or not at all).", DefaultValueFactory = _ => "sector" };
        var seed = new Option<long>("--seed") { Description = "Seed of the random states (the same seed, the same states).", DefaultValueFactory = _ => 1 };
        var check = CheckOption(required: true);
        var timeout = TimeoutOption();
        var at = new Option<string?>("--at") { Description = "Only crash at the mark of this name (sim mark during the recording)." };
        var report = new Option<string>("--report") { Description = "Where the report goes: PATH.json and PATH.md.", DefaultValueFactory = _ => "crash-report" };
        var noShrink = new Option<bool>("--no-shrink") { Description = "Do not shrink failing states to the fewest lost writes that still fail." };
        var command = new Command("explore", "Build every chosen crash state of the log over the base image, serve each over NBD, and let the checker judge it; exits 1 when any state failed.") { log, image, states, tear, seed, check, timeout, at, report, noShrink };
        command.SetAction((r, cancel) => CliContext.RunAsync(r, async () =>
        {
            var model = Load(r.GetValue(log)!);
            var crashPoints = r.GetValue(at) is { } mark ? new[] { model.CrashPointAt(mark) } : null;
            var recipes = Recipes(model, r.GetValue(states)!, r.GetValue(seed), r.GetValue(tear)!, crashPoints);
            using var opened = OpenBase(r, r.GetValue(image)!);
            using var socket = new CrashSocket();
            var checker = new CrashChecker(r.GetValue(check)!, TimeSpan.FromSeconds(r.GetValue(timeout)));
            var explorer = new CrashExplorer(model, opened, checker, socket.Path);
            Console.Error.WriteLine($"exploring {recipes.Count} states of {r.GetValue(log)} over {opened.Description}");
            var progress = new ProgressReporter("crash states", recipes.Count, bytes: false);
            var (outcomes, took) = await explorer.ExploreAsync(recipes, !r.GetValue(noShrink), (done, _) => progress.Report(done), cancel).ConfigureAwait(false);
            var (json, markdown) = CrashReport.Write(r.GetValue(report)!, r.GetValue(log)!, r.GetValue(image)!, $"{r.GetValue(states)}, tear {r.GetValue(tear)}", checker.Command, outcomes, took);
            var failed = outcomes.Where(o => !o.Check.Passed).ToList();
            var summary = new CrashExploreSummary(outcomes.Count, outcomes.Count - failed.Count, failed.Count, took.TotalSeconds, json, markdown, [.. failed.Select(f => new CrashFailure(f.Number, f.Check.ExitCode, (f.Shrunk ?? f.Recipe).ToString()))]);
            CliContext.Print(r, summary, CliJson.Output.CrashExploreSummary, s => string.Join(
                Environment.NewLine,
                [
                    string.Create(CultureInfo.InvariantCulture, $"{s.States} states, {s.Passed} passed, {s.Failed} failed in {s.Seconds:0.0} s; report: {s.ReportMarkdown}, {s.Report}"),
                    .. s.Failures.Take(10).Select(f => $"  state {f.State} failed (exit {f.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none: timed out"}): replay {f.Replay}"),
                ]));

            return failed.Count == 0 ? ExitCodes.Ok : 1;
        }));
        return command;
    }

    private static Command Replay()
    {
        var recipe = new Argument<string>("recipe") { Description = "A recipe from an exploration's report, e.g. at=120/drop=3,5." };
        var log = new Option<string>("--log") { Description = "The write log the recipe is of.", Required = true };
        var image = BaseOption();
        var check = CheckOption(required: false);
        var timeout = TimeoutOption();
        var command = new Command("replay", "Rebuild one crash state from its recipe: check it (exit status is the checker's), or without --check serve it until Ctrl+C.") { recipe, log, image, check, timeout };
        command.SetAction((r, cancel) => CliContext.RunAsync(r, async () =>
        {
            var model = Load(r.GetValue(log)!);
            CrashRecipe parsed;
            try
            {
                parsed = CrashRecipe.Parse(r.GetValue(recipe)!);
            }
            catch (FormatException e)
            {
                throw new KeyStoreException(KeyStoreErrors.Validation, e.Message);
            }

            if (model.Problem(parsed) is { } problem)
            {
                throw new KeyStoreException(KeyStoreErrors.Validation, $"The recipe {parsed} names no legal state of {r.GetValue(log)}: {problem}.");
            }

            using var opened = OpenBase(r, r.GetValue(image)!);
            using var socket = new CrashSocket();
            if (r.GetValue(check) is { } command)
            {
                var explorer = new CrashExplorer(model, opened, new CrashChecker(command, TimeSpan.FromSeconds(r.GetValue(timeout))), socket.Path);
                var result = await explorer.CheckAsync(parsed, 1, cancel).ConfigureAwait(false);
                (r.GetValue(CliContext.Json) ? Console.Error : Console.Out).Write(result.Output); // stdout stays one JSON document
                CliContext.Print(r, new CrashReplayed(parsed.ToString(), result.Passed, result.ExitCode), CliJson.Output.CrashReplayed, c => c.Passed
                    ? $"state {c.State}: passed"
                    : $"state {c.State}: FAILED (exit {c.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none: timed out"})");
                return result.ExitCode ?? 1;
            }

            opened.Stored.Reset();
            await model.Build(parsed).ApplyToAsync(opened.Stored, cancel).ConfigureAwait(false);
            opened.Stored.Seal();
            await using var served = ServedState.Start(opened.Plaintext, socket.Path, 1, parsed.ToString());
            CliContext.Print(r, new CrashServing(parsed.ToString(), served.Uri), CliJson.Output.CrashServing, c => $"serving state {c.State} read-only at {c.Uri} (Ctrl+C stops)");
            try
            {
                await Task.Delay(Timeout.Infinite, cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Show()
    {
        var log = new Argument<string>("log") { Description = "The write log." };
        var command = new Command("show", "What a write log holds: requests by kind, flushes, marks; a damaged log is named where it breaks.") { log };
        command.SetAction(r => CliContext.Run(r, () =>
        {
            var model = Load(r.GetValue(log)!);
            var kinds = model.Requests.GroupBy(q => q.Kind.ToString().ToLowerInvariant()).ToDictionary(g => g.Key, g => g.Count());
            var summary = new CrashLogSummary(
                r.GetValue(log)!, model.Header.SectorSize, model.Header.Capacity, model.RecordCount, model.Requests.Count, kinds, model.Requests.Count(q => q.Fua), model.ChangePoints.Count, [.. model.Marks.Select(m => new CrashLogMark(m.Name, m.CrashPoint))]);
            CliContext.Print(r, summary, CliJson.Output.CrashLogSummary, s => string.Join(
                Environment.NewLine,
                [
                    $"{s.Log}: {s.SectorSize}-byte sectors, {s.Capacity} bytes; {s.Records} records, {s.Requests} requests ({string.Join(", ", s.RequestsByKind.Select(k => $"{k.Value} {k.Key}"))}), {s.Fua} FUA, {s.CrashPoints} crash points where the states change",
                    .. s.Marks.Select(m => $"  mark \"{m.Name}\" at crash point {m.CrashPoint}"),
                ]));

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Option<string> BaseOption() =>
        new("--base") { Description = "The image the recording started from (record start wrote it beside the log: NAME.base.vol, NAME.base.img).", Required = true };

    private static Option<string> CheckOption(bool required) =>
        new("--check") { Description = "The checker, run by /bin/sh with the state's NBD URI as $1 and in BLOCKSIM_CRASH_URI; exit 0 passes.", Required = required };

    private static Option<int> TimeoutOption() =>
        new Option<int>("--check-timeout") { Description = "Seconds a check may take before it is killed and fails.", DefaultValueFactory = _ => 300 }.InRange(1, 86_400);

    /// <summary>Reads the log; a damaged one is an error that says where it breaks.</summary>
    private static CrashStateModel Load(string path)
    {
        try
        {
            return CrashStateModel.Load(path);
        }
        catch (WriteLogDamagedException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    private static List<CrashRecipe> Recipes(CrashStateModel model, string states, long seed, string tear, int[]? crashPoints)
    {
        var generator = Generator(model, tear);
        var recipes = new List<CrashRecipe>();
        foreach (var text in states.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            CrashStrategy strategy;
            try
            {
                strategy = CrashStrategy.Parse(text, seed);
            }
            catch (FormatException e)
            {
                throw new KeyStoreException(KeyStoreErrors.Validation, $"--states: {e.Message}");
            }

            recipes.AddRange(generator.Recipes(strategy, crashPoints).Select(r => tear == "none" && r.Torn.Count > 0 ? r.WithTorn([]) : r));
        }

        return [.. recipes.Distinct()];
    }

    /// <summary>The generator for <c>--tear</c>: the log's sector for sector or none, else the atomic unit in bytes it names.</summary>
    private static CrashStateGenerator Generator(CrashStateModel model, string tear)
    {
        if (tear is "sector" or "none")
        {
            return new CrashStateGenerator(model);
        }

        var problem = $"--tear {tear}: give sector, none, or the disk's atomic write unit in bytes (e.g. 4096)";
        try
        {
            return int.TryParse(tear, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
                ? new CrashStateGenerator(model, bytes)
                : throw new KeyStoreException(KeyStoreErrors.Validation, $"{problem}.");
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new KeyStoreException(KeyStoreErrors.Validation, $"{problem}: {e.Message.Split(" (Parameter")[0]}");
        }
    }

    private static CrashBase OpenBase(ParseResult r, string path) => CrashBase.Open(path, () =>
    {
        var store = CliContext.OpenStore(r);
        return (store, CliContext.Caller(r, store) with { InvokedBy = KeyStoreVolumeKeys.CliPrincipal }, store);
    });

    /// <summary>A private folder for the states' socket (Unix socket paths are short, so under the temp folder).</summary>
    private sealed class CrashSocket : IDisposable
    {
        private readonly string _folder = Directory.CreateTempSubdirectory("blocksim-crash-").FullName;

        public string Path => System.IO.Path.Combine(_folder, "state.sock");

        public void Dispose() => Directory.Delete(_folder, recursive: true);
    }
}
