#!/usr/bin/env bash
# Runs one fuzz target under AFL++ on instrumented BlockSim assemblies.
#   fuzz/run.sh TARGET SECONDS [CORPUS]    CORPUS defaults to fuzz/corpus/TARGET
# Output in fuzz/out/TARGET (AFL++'s folder: queue/, crashes/, hangs/, fuzz_stats). Prints one summary line:
#   fuzz TARGET: N execs in S s (R/s), E edges, C crashes, H hangs
# and exits 1 if AFL++ saved a crash or a hang, naming each input's path.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: fuzz/run.sh TARGET SECONDS [CORPUS]}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [CORPUS]}
corpus=${3:-fuzz/corpus/$target}
command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz not found (Debian: apt-get install afl++)" >&2; exit 2; }
[ -d "$corpus" ] || { echo "fuzz: no corpus folder $corpus" >&2; exit 2; }

bin=fuzz/out/bin
# Build and instrument once per source state: instrumenting rewrites the assemblies in place.
stamp=$(git ls-files -s src fuzz/BlockSim.Fuzz | git hash-object --stdin)$(git diff --quiet -- src fuzz/BlockSim.Fuzz || echo "-dirty-$(date +%s)")
if [ "$(cat "$bin/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$bin"
  dotnet tool restore >/dev/null
  dotnet publish fuzz/BlockSim.Fuzz -c Release -o "$bin" -p:TreatWarningsAsErrors=false >/dev/null
  # The code that reads untrusted bytes, and the configuration binder it relies on (a NuGet package, so a file
  # here); not the target program, SharpFuzz or the framework (System.Text.Json is precompiled in the shared
  # framework, which SharpFuzz cannot instrument).
  for assembly in BlockSim.Nbd BlockSim.Storage BlockSim.KeyStore BlockSim.Kmip blocksim \
    Microsoft.Extensions.Configuration Microsoft.Extensions.Configuration.Json Microsoft.Extensions.Configuration.Binder; do
    dotnet tool run sharpfuzz "$bin/$assembly.dll" >/dev/null
  done
  echo "$stamp" >"$bin/.stamp"
fi

# JSON targets get a dictionary of the keys and values their code reads (fuzz/dict).
dictionary=()
case "$target" in
  configuration) dictionary=(-x fuzz/dict/configuration.dict) ;;
  fault-rule) dictionary=(-x fuzz/dict/fault-rule.dict) ;;
  key-policy) dictionary=(-x fuzz/dict/key-policy.dict) ;;
  audit-log | store-file) dictionary=(-x fuzz/dict/store.dict) ;;
esac

out=fuzz/out/$target
rm -rf "$out"
mkdir -p fuzz/out
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
# -t: a generous per-input limit (the first inputs pay for the JIT); the targets report their own hangs at 10 s.
afl-fuzz -i "$corpus" -o "$out" "${dictionary[@]}" -V "$seconds" -t 20000 -m none -- dotnet "$bin/blocksim-fuzz.dll" afl "$target" >"fuzz/out/$target.log" 2>&1 || {
  echo "fuzz $target: afl-fuzz failed; the end of its log:" >&2
  tail -n 20 "fuzz/out/$target.log" >&2
  exit 1
}

stats=$out/default/fuzzer_stats
value() { sed -n "s/^$1 *: *//p" "$stats"; }
execs=$(value execs_done)
runtime=$(value run_time)
crashes=$(value saved_crashes)
hangs=$(value saved_hangs)
echo "fuzz $target: $execs execs in ${runtime} s ($(value execs_per_sec)/s), $(value edges_found) edges, $crashes crashes, $hangs hangs"
if [ "${crashes:-0}" -gt 0 ] || [ "${hangs:-0}" -gt 0 ]; then
  for input in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
    [ -e "$input" ] && echo "fuzz $target: finding saved at $input (replay: dotnet $bin/blocksim-fuzz.dll replay $target '$input')"
  done
  exit 1
fi
