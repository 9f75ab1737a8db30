#!/usr/bin/env bash
# One command from a fresh Debian 12 (or Ubuntu) machine to a real sandbox run:
# installs the system packages mags needs, the npm dependencies (including Node.js 24),
# builds the native launcher and guest agent, builds the base image, and runs a demo.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: needs root (apt-get, cgroups, subordinate-id maps): run it in a root shell, or: sudo scripts/setup.sh" >&2
  exit 1
fi

# chromium: the headless browser the dashboard's tests drive (playwright-core, no downloaded browser).
# qemu-system-x86 xz-utils cpio: the qemu runtime (microVMs) and its guest kernel (a ~70 MB kernel package download).
packages=(debootstrap slirp4netns libseccomp-dev bubblewrap gcc make libc6-dev util-linux e2fsprogs chromium qemu-system-x86 xz-utils cpio)
# python3: the Python SDK's tests (sdk/python); a minimal Debian install has no Python.
packages+=(python3)
# nftables: egress allow-lists (--allow-host, --allow-cidr) are nftables rules in the sandbox's network namespace.
packages+=(nftables)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Host tuning: without favordynmods every cgroup join waits for an RCU grace period (~20 ms).
cgroup2_mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -n "$cgroup2_mount" ] && ! grep -q "cgroup2 $cgroup2_mount .*favordynmods" /proc/self/mounts; then
  mount -o remount,favordynmods "$cgroup2_mount" && echo "setup: enabled favordynmods on $cgroup2_mount (faster sandbox start)" || true
fi

echo "setup: installing npm dependencies and building (npm install)"
npm install --no-audit --no-fund --loglevel=error

npx mags doctor || true
npx mags image build
# The qemu runtime is optional: a failed kernel download must not fail the setup.
npx mags image build --runtime qemu || echo "setup: the qemu runtime's guest kernel was not built (see above); the namespace runtime works without it: npx mags image build --runtime qemu retries" >&2
echo
echo "setup: demo — a workspace that keeps what a command writes"
npx mags run -w demo 'echo "written at $(date -u +%T) on $(hostname)" >> notes.txt; node --version; git --version'
npx mags run -w demo 'cat notes.txt'
