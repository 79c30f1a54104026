using System.Text.Json;
using BlockSim.Storage.Simulation.Recording;

namespace BlockSim.Storage.Tests;

/// <summary>The strategies enumerate what they promise, legally and reproducibly, and recipes survive their text form.</summary>
public class CrashStateGeneratorTests
{
    [Fact]
    public void Drop_enumerates_exactly_every_set_of_at_most_n_optional_writes()
    {
        var log = new CrashLogScript();
        var durable = log.Done(log.Write(0, 1, fua: true));
        var a = log.Done(log.Write(1, 2));
        var b = log.Done(log.Write(2, 3));
        var c = log.Write(3, 4); // in flight
        var model = log.Model();
        var generator = new CrashStateGenerator(model);

        Assert.Equal(
            ["", $"{a}", $"{b}", $"{c}", $"{a},{b}", $"{a},{c}", $"{b},{c}"],
            generator.Drop(2, [model.RecordCount]).Select(r => string.Join(",", r.Dropped)));
        Assert.Equal(8, generator.Drop(3, [model.RecordCount]).Count());
        Assert.Equal(3, generator.Drop(3, [model.RecordCount], maxPerCrashPoint: 3).Count());
        Assert.DoesNotContain(generator.Drop(3), r => r.Drops(durable) && r.CrashPoint > model.Request(durable).Completed); // lost only before its completion
        Assert.All(generator.Drop(3), r => Assert.Null(model.Problem(r)));
    }

    [Fact]
    public void Prefix_keeps_every_completed_write_and_loses_every_one_in_flight()
    {
        var log = new CrashLogScript();
        var first = log.Write(0, 1);
        var second = log.Write(1, 2);
        log.Complete(second);
        var model = log.Model();

        var recipes = new CrashStateGenerator(model).Prefix().ToList();
        Assert.Equal(["at=0", $"at=3/drop={first}"], recipes.Select(r => r.ToString()));
        Assert.Equal([second], model.Build(recipes[1]).Survivors().Select(r => r.Id));
    }

    [Fact]
    public void Random_is_reproducible_from_its_seed_legal_and_tears_only_writes_in_flight_at_its_crash_point()
    {
        var log = new CrashLogScript();
        for (var i = 0; i < 6; i++)
        {
            log.Done(log.Write(i * 4, (byte)(i + 1), sectors: 4));
        }

        var inFlight = log.Write(30, 9, sectors: 16);
        var model = log.Model();
        var generator = new CrashStateGenerator(model);

        var once = generator.Random(200, seed: 11).ToList();
        Assert.Equal(once, generator.Random(200, seed: 11).ToList());
        Assert.NotEqual(once, generator.Random(200, seed: 12).ToList());
        Assert.All(once, r => Assert.Null(model.Problem(r)));
        Assert.All(once, r => Assert.All(r.Torn, t => Assert.Contains(t.Id, model.Analyze(r.CrashPoint).InFlight.Select(w => w.Id))));
        Assert.Contains(once, r => r.Torn.Any(t => t.Id == inFlight));
        Assert.Contains(once, r => r.Dropped.Count > 2);
        Assert.Equal(once[5], generator.RandomAt(once[5].CrashPoint, once[5].Seed)); // a recipe's seed rebuilds it alone
    }

    [Fact]
    public void With_a_4K_atomic_unit_a_torn_write_loses_only_whole_aligned_4K_pieces()
    {
        var log = new CrashLogScript();
        var inFlight = log.Write(4, 9, sectors: 20); // sectors 4..23: half a unit, two whole units, half a unit
        var model = log.Model();
        var generator = new CrashStateGenerator(model, atomicBytes: 4096);
        Assert.Equal(4096, generator.AtomicBytes);

        var torn = generator.Random(300, seed: 5).SelectMany(r => r.Torn).Where(t => t.Id == inFlight).ToList();
        Assert.NotEmpty(torn);
        int[][] units = [[0, 1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11], [12, 13, 14, 15, 16, 17, 18, 19]];
        foreach (var write in torn)
        {
            Assert.All(units, unit => Assert.True(unit.All(write.Loses) || !unit.Any(write.Loses), $"{write} splits a 4 KiB unit"));
        }

        Assert.Contains(new CrashStateGenerator(model).Random(300, seed: 5).SelectMany(r => r.Torn), t => !units.All(u => u.All(t.Loses) || !u.Any(t.Loses))); // by sector, they do split
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrashStateGenerator(model, atomicBytes: 1536));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrashStateGenerator(model, atomicBytes: 256));
    }

    [Fact]
    public void A_recipe_round_trips_through_its_text_and_json_and_bad_text_says_what_is_wrong()
    {
        var recipe = new CrashRecipe(120, [9, 3, 5], [new TornWrite(14, [1]), new TornWrite(12, [7, 0, 1, 2])], seed: -7);
        Assert.Equal("at=120/seed=-7/drop=3,5,9/torn=12:0-2+7,14:1", recipe.ToString());
        Assert.Equal(recipe, CrashRecipe.Parse(recipe.ToString()));
        Assert.Equal(new CrashRecipe(4), CrashRecipe.Parse("at=4"));

        var json = JsonSerializer.Serialize(recipe.ToString());
        Assert.Equal(recipe, CrashRecipe.Parse(JsonSerializer.Deserialize<string>(json)!));

        foreach (var bad in new[] { "", "drop=1", "at=x", "at=1/drop=1/torn=1:0", "at=1/torn=2", "at=1/torn=2:3-1", "at=1/colour=red", "at=1/torn=2:-1" })
        {
            var problem = Assert.Throws<FormatException>(() => CrashRecipe.Parse(bad));
            Assert.Contains("A recipe looks like", problem.Message);
        }
    }

    [Fact]
    public void Strategies_parse_from_their_names()
    {
        Assert.Equal(new CrashStrategy(CrashStrategyKind.Prefix), CrashStrategy.Parse("prefix"));
        Assert.Equal(new CrashStrategy(CrashStrategyKind.Drop, 2), CrashStrategy.Parse("drop=2"));
        Assert.Equal(new CrashStrategy(CrashStrategyKind.Random, 50, 9), CrashStrategy.Parse("random=50", seed: 9));
        Assert.Throws<FormatException>(() => CrashStrategy.Parse("drop"));
        Assert.Throws<FormatException>(() => CrashStrategy.Parse("random=0"));
    }

    [Fact]
    public void Shrinking_leaves_only_the_dropped_writes_the_failure_needs()
    {
        var failing = new CrashRecipe(50, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [new TornWrite(11, [0]), new TornWrite(12, [2])]);
        var checks = 0;
        bool Fails(CrashRecipe r)
        {
            checks++;
            return r.Drops(3) && r.Drops(7) && r.Torn.Any(t => t.Id == 12);
        }

        var shrunk = CrashRecipeShrinker.Shrink(failing, Fails);
        Assert.Equal("at=50/drop=3,7/torn=12:2", shrunk.ToString());
        Assert.InRange(checks, 13, 40);
        Assert.Throws<ArgumentException>(() => CrashRecipeShrinker.Shrink(new CrashRecipe(50, [1]), _ => false));
    }

    [Fact]
    public async Task Shrinking_goes_round_again_when_giving_one_write_back_lets_an_earlier_one_go()
    {
        // Needs 2 dropped, and fails no more when 3 is dropped without 1: write 1 can go only once 3 has gone.
        static bool Fails(CrashRecipe r) => r.Drops(2) && !(r.Drops(3) && !r.Drops(1));
        var shrunk = await CrashRecipeShrinker.ShrinkAsync(new CrashRecipe(9, [1, 2, 3]), (r, _) => ValueTask.FromResult(Fails(r)));
        Assert.Equal("at=9/drop=2", shrunk.ToString()); // one pass alone would stop at drop=1,2
    }
}
