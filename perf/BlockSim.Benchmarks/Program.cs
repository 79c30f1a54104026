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

// The key store's attach-time Decrypt latency, file store and (given endpoints) etcd store:
//   dotnet run -c Release --project perf/BlockSim.Benchmarks -- --keystore-latency 2000 [HOST:PORT,...]
if (args is ["--keystore-latency", var count, .. var rest])
{
    return BlockSim.Benchmarks.KeyStore.KeyStoreLatency.Run(int.Parse(count, System.Globalization.CultureInfo.InvariantCulture), rest.FirstOrDefault());
}

BenchmarkSwitcher.FromAssembly(typeof(AllocationCheck).Assembly).Run(args);
return 0;
