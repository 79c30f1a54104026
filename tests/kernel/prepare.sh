#!/usr/bin/env bash
# Builds what the kernel attach test boots: Debian 12's own kernel and a small initramfs with busybox,
# nbd-client, mkfs.ext4/e2fsck/debugfs, sqlite3 (for the crash-state workloads), the libraries they link, the modules the test needs and tests/kernel/init.
# Packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x`: nothing is installed on the
# host. The result is cached in $BLOCKSIM_KERNEL_CACHE (default ~/.cache/blocksim-kernel) and rebuilt
# when init or this script changes.
#
# Prints two lines: KERNEL=<path to vmlinuz> and INITRD=<path to initramfs.cpio.gz>.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${BLOCKSIM_KERNEL_CACHE:-$HOME/.cache/blocksim-kernel}"
mkdir -p "$cache"

stamp=$(cat "$here/prepare.sh" "$here/init" | sha256sum | cut -c1-16)
if [ -f "$cache/ready-$stamp" ]; then
  echo "KERNEL=$cache/vmlinuz"
  echo "INITRD=$cache/initramfs.cpio.gz"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The versioned kernel package behind the linux-image-amd64 metapackage. A fresh machine may have no
# package lists yet: update them once and retry.
apt-get download linux-image-amd64 >&2 || { apt-get update -qq >&2 && apt-get download linux-image-amd64 >&2; }
kernel_package=$(dpkg-deb -f linux-image-amd64_*.deb Depends | grep -o 'linux-image-[0-9][^ ,]*-amd64' | head -n 1)
apt-get download "$kernel_package" busybox-static nbd-client e2fsprogs sqlite3 >&2
mkdir pkg
for deb in *.deb; do dpkg-deb -x "$deb" pkg; done
release=$(ls pkg/lib/modules | head -n 1)

root=initramfs
mkdir -p "$root"/{bin,sbin,lib/modules,lib64,dev,proc,sys,mnt,root,tmp,etc}
cp pkg/bin/busybox "$root/bin/busybox"
cp pkg/sbin/nbd-client pkg/sbin/mke2fs pkg/sbin/e2fsck pkg/sbin/debugfs "$root/sbin/"
cp pkg/usr/bin/sqlite3 "$root/bin/sqlite3"
ln -s mke2fs "$root/sbin/mkfs.ext4"

# Modules, loaded by init in dependency order (the package ships no modules.dep): ext4 needs jbd2,
# mbcache and crc16, and crc32c (soft dependency); e1000 is the NIC qemu emulates; nbd the device.
for module in crypto/crc32c_generic lib/crc16 fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4 drivers/net/ethernet/intel/e1000/e1000 drivers/block/nbd; do
  cp "pkg/lib/modules/$release/kernel/$module.ko" "$root/lib/modules/"
done

# Shared libraries, taken from the host (same Debian release) as ldd resolves them.
for binary in "$root"/sbin/nbd-client "$root"/sbin/mke2fs "$root"/sbin/e2fsck "$root"/sbin/debugfs "$root"/bin/sqlite3; do
  if ldd "$binary" | grep -q 'not found'; then
    echo "prepare.sh: $(basename "$binary") needs libraries this host lacks:" >&2
    ldd "$binary" | grep 'not found' >&2
    exit 1
  fi
  for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done

cp "$here/init" "$root/init"
chmod 755 "$root/init"
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"

# busybox's own cpio: the host may have none.
(cd "$root" && find . | "$work/pkg/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 > "$cache/initramfs.cpio.gz"
cp "pkg/boot/vmlinuz-$release" "$cache/vmlinuz"
rm -f "$cache"/ready-*
touch "$cache/ready-$stamp"
echo "KERNEL=$cache/vmlinuz"
echo "INITRD=$cache/initramfs.cpio.gz"
