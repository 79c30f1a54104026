using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Storage.Tests;

/// <summary>Which crash states are legal: the block layer's flush and FUA contract, from hand-built logs.</summary>
public class CrashStateModelTests
{
    private const byte Base = 0xBB;

    [Fact]
    public async Task A_flushed_write_is_always_there_and_a_later_unflushed_one_may_or_may_not_be()
    {
        var log = new CrashLogScript();
        var a = log.Done(log.Write(0, 0xA1));
        log.Done(log.Flush());
        var b = log.Done(log.Write(1, 0xB2));
        var model = log.Model();

        var analysis = model.Analyze(model.RecordCount);
        Assert.Equal([a], analysis.Durable.Select(r => r.Id));
        Assert.Equal([b], analysis.Unflushed.Select(r => r.Id));
        Assert.Empty(analysis.InFlight);

        var states = await AllSectorZeroAndOne(model, new CrashStateGenerator(model).Drop(2, [model.RecordCount]));
        Assert.Equal(["A1 B2", "A1 BB"], states);
        Assert.Throws<ArgumentException>(() => model.Build(new CrashRecipe(model.RecordCount, [a])));
    }

    [Fact]
    public async Task Two_unflushed_writes_to_one_sector_leave_either_version_or_the_base()
    {
        var log = new CrashLogScript();
        log.Done(log.Write(0, 1));
        log.Done(log.Write(0, 2));
        var model = log.Model();

        var fills = new SortedSet<byte>();
        foreach (var state in new CrashStateGenerator(model).States(new CrashStateGenerator(model).Drop(2, [model.RecordCount])))
        {
            fills.Add((await CrashLogScript.Sectors(state, Base))[0]);
        }

        Assert.Equal([1, 2, Base], fills);
    }

    [Fact]
    public void A_completed_fua_write_is_durable_without_a_flush_and_an_uncompleted_one_is_not()
    {
        var log = new CrashLogScript();
        var fua = log.Write(0, 1, fua: true);
        var beforeCompletion = log.Now;
        log.Complete(fua);
        var model = log.Model();

        Assert.Equal([fua], model.Analyze(beforeCompletion).InFlight.Select(r => r.Id));
        Assert.Equal([fua], model.Analyze(model.RecordCount).Durable.Select(r => r.Id));
        Assert.Contains("durable", Assert.Throws<ArgumentException>(() => model.Build(new CrashRecipe(model.RecordCount, [fua]))).Message);
        Assert.Null(model.Problem(new CrashRecipe(beforeCompletion, [fua])));
    }

    [Fact]
    public void A_flush_covers_only_writes_completed_before_it_was_submitted_and_only_once_it_completes()
    {
        var log = new CrashLogScript();
        var early = log.Done(log.Write(0, 1));
        var late = log.Write(1, 2);
        var flush = log.Flush();
        log.Complete(late);              // completed while the flush was already on its way
        var flushPending = log.Now;
        log.Complete(flush);
        var model = log.Model();

        var pending = model.Analyze(flushPending);
        Assert.Empty(pending.Durable);
        Assert.Equal([early, late], pending.Unflushed.Select(r => r.Id));

        var flushed = model.Analyze(model.RecordCount);
        Assert.Equal([early], flushed.Durable.Select(r => r.Id));
        Assert.Equal([late], flushed.Unflushed.Select(r => r.Id));
    }

    [Fact]
    public void A_failed_write_counts_as_in_flight_and_a_failed_flush_covers_nothing()
    {
        var log = new CrashLogScript();
        var written = log.Done(log.Write(0, 1));
        var failed = log.Write(1, 2, sectors: 4);
        log.Complete(failed, failed: true);
        log.Complete(log.Flush(), failed: true);
        var model = log.Model();

        var analysis = model.Analyze(model.RecordCount);
        Assert.Empty(analysis.Durable);
        Assert.Equal([written], analysis.Unflushed.Select(r => r.Id));
        Assert.Equal([failed], analysis.InFlight.Select(r => r.Id));
        Assert.Null(model.Problem(new CrashRecipe(model.RecordCount, torn: [new TornWrite(failed, [0, 3])])));
    }

    [Fact]
    public async Task An_in_flight_write_torn_keeps_exactly_the_sectors_not_listed()
    {
        var log = new CrashLogScript();
        var write = log.Write(2, 7, sectors: 4);
        var model = log.Model();

        var state = model.Build(new CrashRecipe(model.RecordCount, torn: [new TornWrite(write, [1, 2])]));
        Assert.Equal([Base, Base, 7, Base, Base, 7, Base, Base], (await CrashLogScript.Sectors(state, Base, 8)));
        Assert.Equal(2, state.Pieces().Count());

        Assert.Contains("keeps at least one", Assert.Throws<ArgumentException>(() => model.Build(new CrashRecipe(model.RecordCount, torn: [new TornWrite(write, [0, 1, 2, 3])]))).Message);
        Assert.Contains("touches 4 sectors", Assert.Throws<ArgumentException>(() => model.Build(new CrashRecipe(model.RecordCount, torn: [new TornWrite(write, [4])]))).Message);
    }

    [Fact]
    public async Task Surviving_writes_are_laid_down_in_completion_order_not_submission_order()
    {
        var log = new CrashLogScript();
        var first = log.Write(0, 1);
        var second = log.Write(0, 2);
        log.Complete(second);
        log.Complete(first);
        var model = log.Model();

        Assert.Equal(1, (await CrashLogScript.Sectors(model.Build(new CrashRecipe(model.RecordCount)), Base))[0]);
        Assert.Equal([second, first], model.Build(new CrashRecipe(model.RecordCount)).Survivors().Select(r => r.Id));
    }

    [Fact]
    public async Task Trim_and_write_zeroes_rebuild_as_zeros_by_the_same_rule()
    {
        var log = new CrashLogScript();
        log.Done(log.Write(0, 5, sectors: 4));
        log.Done(log.Flush());
        var trim = log.Done(log.Trim(0, 1));
        var zero = log.Done(log.Zero(2, 2));
        var model = log.Model();

        Assert.Equal([0, 5, 0, 0], (await CrashLogScript.Sectors(model.Build(new CrashRecipe(model.RecordCount)), Base, 4)));
        Assert.Equal([5, 5, 5, 5], (await CrashLogScript.Sectors(model.Build(new CrashRecipe(model.RecordCount, [trim, zero])), Base, 4)));
    }

    [Fact]
    public void Crash_points_at_marks_and_recipes_that_do_not_fit_the_log_are_named()
    {
        var log = new CrashLogScript();
        var before = log.Done(log.Write(0, 1));
        log.Mark("committed");
        var after = log.Write(1, 2);
        var flush = log.Flush();
        var model = log.Model();

        var atMark = model.CrashPointAt("committed");
        Assert.Equal(3, atMark);
        Assert.Contains("\"committed\"", Assert.Throws<ArgumentException>(() => model.CrashPointAt("nope")).Message);
        Assert.Contains("submitted after crash point 3", model.Problem(new CrashRecipe(atMark, [after])));
        Assert.Contains("changes no content", model.Problem(new CrashRecipe(model.RecordCount, [flush])));
        Assert.Contains("no request 9", model.Problem(new CrashRecipe(model.RecordCount, [9])));
        Assert.Contains("past the log", model.Problem(new CrashRecipe(model.RecordCount + 1)));
        Assert.Null(model.Problem(new CrashRecipe(atMark, [before])));
        Assert.Equal([0, 1, 2, 4], model.ChangePoints); // marks and flush submissions change nothing
    }

    /// <summary>Sectors 0 and 1 of each state, as hex, distinct and sorted.</summary>
    private static async Task<List<string>> AllSectorZeroAndOne(CrashStateModel model, IEnumerable<CrashRecipe> recipes)
    {
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var recipe in recipes)
        {
            var sectors = await CrashLogScript.Sectors(model.Build(recipe), Base, 2);
            seen.Add($"{sectors[0]:X2} {sectors[1]:X2}");
        }

        return [.. seen];
    }
}
