#!/usr/bin/env bash
# Boots a one-node Ceph cluster (one monitor, one bluestore OSD on a sparse file, no manager) on 127.0.0.1
# in DIR, with the monitor on PORT, auth none, pool size 1, and an RBD pool "rbd". Everything the cluster
# writes (data, logs, sockets, pid files) stays under DIR; tests/ceph/stop.sh DIR stops it by its pid files.
# Prints the path of DIR/ceph.conf as its last line (and writes it to DIR/conf-path).
#
#   tests/ceph/start.sh DIR PORT [OSD_SIZE_BYTES]
#
# Needs ceph-mon, ceph-osd (with ceph, monmaptool, rbd from ceph-common) and uuidgen (uuid-runtime).
# Why bluestore on a sparse file rather than memstore: memstore charges a whole object for any write into
# it and, when full, hangs writes instead of failing them (design/DISTRIBUTED.md).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 DIR MON_PORT [OSD_SIZE_BYTES]" >&2
  exit 2
fi
dir=$(mkdir -p "$1" && cd "$1" && pwd)
port=$2
osd_size=${3:-$((8 << 30))}  # sparse: only what is written takes disk space

for tool in ceph-mon ceph-osd ceph monmaptool rbd uuidgen; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install ceph-mon ceph-osd uuid-runtime)" >&2; exit 3; }
done
if [ -e "$dir/ceph.conf" ]; then
  echo "$dir already holds a cluster; stop it with tests/ceph/stop.sh and remove the directory first" >&2
  exit 2
fi

started=$(date +%s.%N)
fsid=$(uuidgen)
mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log"
conf="$dir/ceph.conf"
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon data avail crit = 0
mon warn on insecure global id reclaim allowed = false
mon allow pool delete = true
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
# Tests make and drop many clients; keep the client side quiet and quick to give up on a dead cluster.
client mount timeout = 30
rados mon op timeout = 30
rados osd op timeout = 30

[mon.a]
mon data = $dir/mon

[osd.0]
osd data = $dir/osd
osd objectstore = bluestore
bluestore block path = $dir/osd-block.img
bluestore block size = $osd_size
bluestore block create = true
bluestore block db create = false
bluestore block wal create = false
osd memory target = 1073741824
CONF
echo "$conf" >"$dir/conf-path"
export CEPH_CONF=$conf

# Each step's time since the start goes to DIR/log/boot.log, to see where a slow boot spends it.
mark() { echo "$(echo "$(date +%s.%N) - $started" | bc) $1" >>"$dir/log/boot.log"; }

fail() {
  echo "ceph boot failed: $1 (logs in $dir/log)" >&2
  tail -n 20 "$dir"/log/*.log >&2 2>/dev/null || true
  exit 1
}

monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-mon --id a --mkfs --monmap "$dir/monmap" --keyring /dev/null >/dev/null 2>&1 || fail "ceph-mon --mkfs"
touch "$dir/mon/keyring"
ceph-mon --id a </dev/null >>"$dir/log/start.err" 2>&1 || fail "ceph-mon did not start (is port $port free?)"
mark "mon started"

# The OSD puts itself into the CRUSH map when it starts (osd crush update on start), so no "crush add".
timeout 60 ceph --connect-timeout 30 osd create >/dev/null || fail "the monitor did not answer"
mark "osd id allocated"
ceph-osd --id 0 --mkfs >/dev/null 2>&1 || fail "ceph-osd --mkfs"
mark "osd made"
ceph-osd --id 0 </dev/null >>"$dir/log/start.err" 2>&1 || fail "ceph-osd did not start"
mark "osd started"

# The pool; "rbd pool init" waits for its placement groups, so it also waits for the OSD to be up.
ceph osd pool create rbd 8 8 >/dev/null 2>&1 || fail "pool create"
mark "pool made"
timeout 120 rbd pool init rbd || fail "rbd pool init"
mark "pool ready"

elapsed=$(echo "$(date +%s.%N) - $started" | bc 2>/dev/null || echo "?")
echo "ceph up in ${elapsed} s: mon at 127.0.0.1:$port, pids $(cat "$dir"/run/*.pid | tr '\n' ' ')" >&2
echo "$conf"
