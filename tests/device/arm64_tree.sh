#!/usr/bin/env bash
# An arm64 (Raspberry Pi class) CPython 3.11 with numpy, onnxruntime and tokenizers, run under
# qemu-aarch64-static on this x86 machine: the recipe of ../shared/notes/arm64-emulation.md.
# Usage: tests/device/arm64_tree.sh DIR   (about 120 MB of downloads; idempotent: DIR/.complete)
# Needs root for apt-get (CI is); prints what to run otherwise.
set -euo pipefail
R=$(realpath -m "${1:-build/arm64}")
ORT=${ORT_VERSION:?the onnxruntime version of the device wheel}
[ "$(cat "$R/.complete" 2>/dev/null)" = "$ORT" ] && exit 0
rm -rf "$R/site" "$R/wheels"
if [ "$(id -u)" != 0 ]; then
  echo "arm64 tree: needs root for apt-get (qemu-user-static and arm64 .debs); run 'sudo make arm64'" >&2
  exit 0
fi
mkdir -p "$R/debs" "$R/sysroot/proc" "$R/wheels"
if [ -x "$R/sysroot/usr/bin/python3.11" ]; then SYSROOT_READY=1; else SYSROOT_READY=0; fi
command -v qemu-aarch64-static >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null; }
if [ "$SYSROOT_READY" = 0 ]; then
dpkg --add-architecture arm64
apt-get update -qq
( cd "$R/debs"
  for p in python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libexpat1 zlib1g libssl3 \
           libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libuuid1 libgcc-s1 libstdc++6 libgomp1 libncursesw6 \
           libtinfo6 libreadline8 libdb5.3 libnsl2 libtirpc3 libcrypt1 libgssapi-krb5-2 libkrb5-3 \
           libk5crypto3 libcom-err2 libkrb5support0 libkeyutils1; do apt-get download -qq "$p:arm64"; done
  apt-get download -qq media-types
  for f in *.deb; do dpkg -x "$f" "$R/sysroot"; done )
dpkg --remove-architecture arm64 2>/dev/null || true
apt-get update -qq
fi
# The one trap: qemu passes the host's x86 /proc/cpuinfo through and onnxruntime's CPU detection
# crashes at import; -L makes the guest read SYSROOT/proc/cpuinfo, so write an ARM one there.
: > "$R/sysroot/proc/cpuinfo"
for i in $(seq 0 $(($(nproc) - 1))); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$i" >> "$R/sysroot/proc/cpuinfo"
done
printf 'Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n' >> "$R/sysroot/proc/cpuinfo"
PLAT="--only-binary=:all: --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none"
PIP="${PIP:-python3 -m pip}"
$PIP download -q $PLAT --no-deps -d "$R/wheels" numpy "onnxruntime==$ORT" tokenizers protobuf flatbuffers packaging
$PIP install -q --no-deps --no-index $PLAT --target "$R/site" "$R"/wheels/*.whl
echo "$ORT" > "$R/.complete"
echo "arm64 tree ready in $R: PYTHONPATH=$R/site qemu-aarch64-static -cpu cortex-a72 -L $R/sysroot $R/sysroot/usr/bin/python3.11"
