namespace BlockSim.Storage.Simulation.Recording;

/// <summary>
/// Makes a failing crash recipe as small as it will go, so the report names the few lost writes that matter.
/// Greedy, one at a time: give back each dropped write (and each torn one, whole), keep the change when the
/// state still fails, and go round again until nothing more can be given back. The result is 1-minimal:
/// giving back any single write it still drops or tears makes the failure go away. Giving a write back is
/// always legal, as every dropped or torn write was optional; the crash point is kept.
/// </summary>
public static class CrashRecipeShrinker
{
    public static CrashRecipe Shrink(CrashRecipe failing, Func<CrashRecipe, bool> fails) =>
        ShrinkAsync(failing, (recipe, _) => ValueTask.FromResult(fails(recipe))).AsTask().GetAwaiter().GetResult();

    /// <summary>As <see cref="Shrink"/>, for checkers that wait (mount a filesystem, run fsck).</summary>
    public static async ValueTask<CrashRecipe> ShrinkAsync(CrashRecipe failing, Func<CrashRecipe, CancellationToken, ValueTask<bool>> fails, CancellationToken cancellationToken = default)
    {
        if (!await fails(failing, cancellationToken).ConfigureAwait(false))
        {
            throw new ArgumentException($"The recipe {failing} does not fail the check, so there is nothing to shrink.", nameof(failing));
        }

        var current = failing;
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var id in current.Dropped.ToArray())
            {
                var candidate = current.WithDropped(current.Dropped.Where(d => d != id));
                if (await fails(candidate, cancellationToken).ConfigureAwait(false))
                {
                    (current, changed) = (candidate, true);
                }
            }

            foreach (var torn in current.Torn.ToArray())
            {
                var candidate = current.WithTorn(current.Torn.Where(t => t.Id != torn.Id));
                if (await fails(candidate, cancellationToken).ConfigureAwait(false))
                {
                    (current, changed) = (candidate, true);
                }
            }
        }

        return current;
    }
}
