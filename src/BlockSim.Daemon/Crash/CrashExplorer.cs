using System.Diagnostics;
using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Daemon.Crash;

/// <summary>The outcome of one state: its recipe, the check, and for a failure the smallest recipe that still fails.</summary>
internal sealed record StateOutcome(int Number, CrashRecipe Recipe, CheckResult Check, CrashRecipe? Shrunk = null, string? ShrinkNote = null);

/// <summary>
/// Builds crash states of a recorded log over its base image, one at a time on the same copy-on-write
/// device (reset between states, sealed while checked), serves each over NBD and lets the checker judge
/// it. A failed state is shrunk to the fewest lost writes that still fail, by checking smaller recipes.
/// </summary>
internal sealed class CrashExplorer(CrashStateModel model, CrashBase image, CrashChecker checker, string socket)
{
    /// <summary>Builds, serves and checks the state <paramref name="recipe"/> names.</summary>
    public async Task<CheckResult> CheckAsync(CrashRecipe recipe, int number, CancellationToken cancellationToken)
    {
        var state = model.Build(recipe); // refuses a recipe that names no legal state of this log
        image.Stored.Reset();
        await state.ApplyToAsync(image.Stored, cancellationToken).ConfigureAwait(false);
        image.Stored.Seal();
        await using var served = ServedState.Start(image.Plaintext, socket, number, recipe.ToString());
        return await checker.CheckAsync(served, cancellationToken).ConfigureAwait(false);
    }

    public async Task<(List<StateOutcome> Outcomes, TimeSpan Took)> ExploreAsync(IReadOnlyList<CrashRecipe> recipes, bool shrink, Action<int, int>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var outcomes = new List<StateOutcome>(recipes.Count);
        var failed = 0;
        for (var i = 0; i < recipes.Count; i++)
        {
            var number = i + 1;
            var check = await CheckAsync(recipes[i], number, cancellationToken).ConfigureAwait(false);
            var outcome = new StateOutcome(number, recipes[i], check);
            if (!check.Passed)
            {
                failed++;
                if (shrink)
                {
                    outcome = await ShrinkAsync(outcome, cancellationToken).ConfigureAwait(false);
                }
            }

            outcomes.Add(outcome);
            progress?.Invoke(number, failed);
        }

        return (outcomes, clock.Elapsed);
    }

    private async Task<StateOutcome> ShrinkAsync(StateOutcome failure, CancellationToken cancellationToken)
    {
        if (failure.Recipe.Dropped.Count + failure.Recipe.Torn.Count == 0)
        {
            return failure with { Shrunk = failure.Recipe }; // nothing lost but what had to be: already the smallest
        }

        try
        {
            var shrunk = await CrashRecipeShrinker.ShrinkAsync(
                failure.Recipe,
                async (candidate, token) => !(await CheckAsync(candidate, failure.Number, token).ConfigureAwait(false)).Passed,
                cancellationToken).ConfigureAwait(false);
            return failure with { Shrunk = shrunk };
        }
        catch (ArgumentException)
        {
            // The recipe passed when checked again: a checker that does not decide the same way twice.
            return failure with { ShrinkNote = "not shrunk: the state passed when checked again, so the checker's verdict is not reproducible" };
        }
    }
}
