#!/usr/bin/env bash
# Stops the cluster tests/ceph/start.sh booted in DIR, by the pids in its pid files (never by name):
# TERM, then KILL after 10 s. Leaves DIR for the caller to remove.
#
#   tests/ceph/stop.sh DIR
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
pids=()
for file in "$dir"/run/*.pid; do
  [ -e "$file" ] || continue
  pid=$(cat "$file")
  # Only a ceph daemon: a stale pid file must not kill a process that reused the number.
  if [[ "$pid" =~ ^[0-9]+$ ]] && grep -q '^ceph-' "/proc/$pid/comm" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  fi
done
for _ in $(seq 100); do  # up to 10 s
  alive=()
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null && alive+=("$pid")
  done
  [ ${#alive[@]} -eq 0 ] && exit 0
  sleep 0.1
done
for pid in "${alive[@]}"; do
  kill -KILL "$pid" 2>/dev/null
done
exit 0
