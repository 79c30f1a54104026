#!/usr/bin/env bash
# Boots the test guest under qemu (software emulation, no KVM) against an NBD server on the host.
#   boot.sh PORT EXPORT BLOCK_SIZE CONNECTIONS FLUSH_EACH CPUS [MODE]   (MODE: fault, see init)
# Prints the guest's console; exits 0 only if the guest printed "KERNEL-TEST PASS".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port=$1 export_name=$2 block=$3 conns=$4 flush_each=$5 cpus=$6 mode=${7:-attach}

eval "$("$here/prepare.sh" | grep -E '^(KERNEL|INITRD)=')"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The host timeout backs up the guest's own watchdog (240 s).
status=0
timeout --kill-after=10 300 qemu-system-x86_64 \
  -M pc -accel tcg -cpu max -m 512 -smp "$cpus" \
  -kernel "$KERNEL" -initrd "$INITRD" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 blocksim_port=$port blocksim_export=$export_name blocksim_block=$block blocksim_conns=$conns blocksim_flush=$flush_each blocksim_mode=$mode" \
  -nic user,model=e1000 \
  -display none -serial stdio -monitor none -no-reboot </dev/null | tee "$log" || status=$?

if grep -q '^KERNEL-TEST PASS' "$log"; then
  exit 0
fi
echo "boot.sh: the guest did not report PASS (qemu exit status $status)" >&2
exit 1
