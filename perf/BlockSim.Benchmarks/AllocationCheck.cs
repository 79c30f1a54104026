using System.Text.Json;
using BlockSim.Crypto;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace BlockSim.Benchmarks;

/// <summary>
/// The CI check on hot-path allocations: runs every case of the benchmark classes named in the budget file
/// with a short in-process job and the memory diagnoser, and fails when a case allocates more per operation
/// than its recorded budget (plus the harness's noise floor), when a case has no budget, or when a budget names no case (so the file stays
/// true). Usage: <c>blocksim-bench --allocation-check perf/allocation-budgets.json</c>.
/// </summary>
internal static class AllocationCheck
{
    public static int Run(string budgetFile)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(budgetFile));
        var budgets = document.RootElement.GetProperty("budgets").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
        var noiseFloor = document.RootElement.GetProperty("noiseFloor").GetInt64();
        var types = document.RootElement.GetProperty("classes").EnumerateArray()
            .Select(c => typeof(AllocationCheck).Assembly.GetType($"BlockSim.Benchmarks.{c.GetString()}") ?? throw new ArgumentException($"{budgetFile}: no benchmark class {c.GetString()}."))
            .ToArray();

        // Short and in-process: no project to build, a few thousand operations per case. Allocation per
        // operation does not need the statistical care that timing does.
        var job = Job.Dry.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(1).WithIterationCount(1).WithInvocationCount(2048).WithUnrollFactor(1);
        var config = ManualConfig.CreateEmpty().AddJob(job).AddDiagnoser(MemoryDiagnoser.Default).AddLogger(NullLogger.Instance)
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);

        var failures = new List<string>();
        var seen = new HashSet<string>();
        var over = new Dictionary<string, long>();
        foreach (var report in BenchmarkRunner.Run(types, config).SelectMany(summary => summary.Reports))
        {
            var key = Key(report.BenchmarkCase);
            seen.Add(key);
            var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
            if (allocated is null || !report.Success)
            {
                failures.Add($"{key}: did not run");
                continue;
            }

            if (!budgets.TryGetValue(key, out var budget))
            {
                failures.Add($"{key}: {allocated} B/op and no budget recorded; add \"{key}\": {allocated} to {budgetFile}");
                continue;
            }

            var isOver = allocated > budget + noiseFloor;
            Console.WriteLine($"{(isOver ? "OVER BUDGET" : "ok"),-11} {key}: {allocated} B/op (budget {budget})");
            if (isOver)
            {
                over[key] = allocated.Value;
            }
        }

        // A real per-operation allocation happens on every run; a one-off (a background thread allocating
        // during one case's single iteration, seen once in CI on a case that never allocates) does not. So a
        // case over budget is measured once more, alone, and fails only if it is over again.
        if (over.Count > 0)
        {
            var again = config.AddFilter(new SimpleFilter(c => over.ContainsKey(Key(c))));
            foreach (var report in BenchmarkRunner.Run(types, again).SelectMany(summary => summary.Reports))
            {
                var key = Key(report.BenchmarkCase);
                var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
                var stillOver = allocated is null || allocated > budgets[key] + noiseFloor;
                Console.WriteLine($"{(stillOver ? "OVER AGAIN" : "ok on rerun"),-11} {key}: {allocated} B/op (first run {over[key]}, budget {budgets[key]})");
                if (stillOver)
                {
                    failures.Add($"{key}: {allocated} B/op twice ({over[key]} first), budget {budgets[key]}");
                }
            }
        }

        foreach (var key in budgets.Keys.Where(k => !seen.Contains(k)))
        {
            if (TierThisCpuLacks(key) is { } tier)
            {
                // The XTS cases run on every tier the CPU has, so the file budgets all of them; a machine
                // without AVX-512, say, cannot run the vaes512 cases, and says so rather than failing.
                Console.WriteLine($"{"not run",-11} {key}: this CPU has no {tier} tier");
            }
            else
            {
                failures.Add($"{key}: budgeted but no such benchmark case ran; remove it from {budgetFile}");
            }
        }

        foreach (var failure in failures)
        {
            Console.WriteLine($"FAIL {failure}");
        }

        Console.WriteLine($"allocation budgets: {seen.Count} cases, {failures.Count} failures");
        return failures.Count == 0 ? 0 : 1;
    }

    private static string Key(BenchmarkCase benchmark) =>
        $"{benchmark.Descriptor.Type.Name}.{benchmark.Descriptor.WorkloadMethod.Name} {benchmark.Parameters.DisplayInfo}".Trim();

    /// <summary>The XTS tier a case key names (<c>Tier=Vaes512</c>) when this CPU cannot run it, else null.</summary>
    private static XtsTier? TierThisCpuLacks(string key)
    {
        var match = System.Text.RegularExpressions.Regex.Match(key, @"Tier=(\w+)");
        return match.Success && Enum.TryParse<XtsTier>(match.Groups[1].Value, out var tier) && !XtsTiers.IsSupported(tier) ? tier : null;
    }
}
