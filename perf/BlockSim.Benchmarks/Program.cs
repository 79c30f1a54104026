using BenchmarkDotNet.Running;
using BlockSim.Benchmarks;

// Pick benchmarks with the usual BenchmarkDotNet arguments, e.g.
//   dotnet run -c Release --project perf/BlockSim.Benchmarks -- --filter '*Xts*'
// or check hot-path allocations against their budgets (what CI runs):
//   dotnet run -c Release --project perf/BlockSim.Benchmarks -- --allocation-check perf/allocation-budgets.json
if (args is ["--allocation-check", var budgets])
{
    return AllocationCheck.Run(budgets);
}

BenchmarkSwitcher.FromAssembly(typeof(AllocationCheck).Assembly).Run(args);
return 0;
