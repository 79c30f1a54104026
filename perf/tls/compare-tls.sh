#!/bin/bash
# NBD over TLS, side by side: blocksim and nbdkit, each with a 1 GiB memory export, with and without TLS
# (TLS 1.3, client certificate verified), 512 MiB of random data written then read back with nbdcopy
# (its default 4 connections). Three rounds, servers alternating. Run from the repository root after
# 'dotnet build -c Release'; needs nbdkit, nbdcopy (libnbd-bin) and bc. Work files go to a temporary folder.
set -euo pipefail
B=$PWD/src/BlockSim.Daemon/bin/Release/net10.0/blocksim
WORK=$(mktemp -d /tmp/blocksim-tls-perf.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
"$B" tls init creds --client alice > /dev/null
head -c 536870912 /dev/urandom > data.bin
mkdir nk && cp creds/ca-cert.pem creds/server-cert.pem creds/server-key.pem nk/
run() { # name url
  local s e
  s=$(date +%s.%N); nbdcopy data.bin "$2"; e=$(date +%s.%N); w=$(echo "512/($e-$s)" | bc -l)
  s=$(date +%s.%N); nbdcopy "$2" null:; e=$(date +%s.%N); r=$(echo "512/($e-$s)" | bc -l)
  printf "%s write %.0f MiB/s read %.0f MiB/s\n" "$1" "$w" "$r"
}
for round in 1 2 3; do
  $B serve --memory --size 1G --listen 127.0.0.1:10950 --socket none --tls-dir creds > /dev/null 2>&1 & P=$!; sleep 3
  run "blocksim-tls" "nbds://127.0.0.1:10950/default?tls-certificates=$PWD/creds/clients/alice"
  kill $P; wait $P || true
  $B serve --memory --size 1G --listen 127.0.0.1:10951 --socket none > /dev/null 2>&1 & P=$!; sleep 3
  run "blocksim-plain" "nbd://127.0.0.1:10951/default"
  kill $P; wait $P || true
  nbdkit --exit-with-parent -f -p 10952 -i 127.0.0.1 --tls=require --tls-certificates=$PWD/nk --tls-verify-peer memory 1G > /dev/null 2>&1 & P=$!; sleep 2
  run "nbdkit-tls" "nbds://127.0.0.1:10952/?tls-certificates=$PWD/creds/clients/alice"
  kill $P; wait $P || true
  nbdkit --exit-with-parent -f -p 10953 -i 127.0.0.1 memory 1G > /dev/null 2>&1 & P=$!; sleep 2
  run "nbdkit-plain" "nbd://127.0.0.1:10953/"
  kill $P; wait $P || true
done
