#!/usr/bin/env bash
# The key store's attach-time Decrypt latency: a store in a directory, then one in a three-member etcd
# booted here on loopback ports of its own (stopped by PID at the end). Usage: decrypt-latency.sh [COUNT]
set -euo pipefail
count=${1:-2000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d /tmp/blocksim-etcd-latency.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

base=$((20000 + RANDOM % 20000))
cluster=""
endpoints=""
for i in 1 2 3; do
  cluster+="${cluster:+,}m$i=http://127.0.0.1:$((base + 10 * i + 1))"
  endpoints+="${endpoints:+,}127.0.0.1:$((base + 10 * i))"
done
for i in 1 2 3; do
  client=$((base + 10 * i)); peer=$((base + 10 * i + 1))
  etcd --name "m$i" --data-dir "$work/m$i" --log-level error \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$cluster" --initial-cluster-state new >"$work/m$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 100); do
  ETCDCTL_API=3 etcdctl --endpoints="$endpoints" endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
ETCDCTL_API=3 etcdctl --endpoints="$endpoints" endpoint health

grep -m1 "model name" /proc/cpuinfo
dotnet run -c Release --project "$root/perf/BlockSim.Benchmarks" -- --keystore-latency "$count" "$endpoints"
