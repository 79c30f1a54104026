using BenchmarkDotNet.Running;

// Pick benchmarks with the usual BenchmarkDotNet arguments, e.g.
//   dotnet run -c Release --project perf/BlockSim.Benchmarks -- --filter '*Xts*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
