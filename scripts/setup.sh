#!/usr/bin/env bash
# Idempotent set-up for a bare Debian 12 machine (CI's or a user's): node modules, then, only when
# Dawn finds no WebGPU adapter, the Vulkan loader and Mesa's lavapipe >= 24 from bookworm-backports
# (bookworm's own Mesa 22.3 is rejected by Dawn). Prints the adapter it ends with.
# Usage: bash scripts/setup.sh [--quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=${1:-}
say() { [ "$quiet" = --quiet ] || echo "setup: $*"; }
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

# 1. Node modules: install when missing or older than the lock file.
if [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing node modules"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# 2. A WebGPU adapter: try Dawn first, install a software Vulkan driver only if that fails.
if probe=$(node scripts/probe-adapter.mjs 2>/dev/null); then
  say "$probe"
  exit 0
fi
say "$probe"
if ! command -v apt-get >/dev/null; then
  echo "setup: no WebGPU adapter and no apt-get: install a Vulkan driver (Mesa >= 24 lavapipe or a GPU driver) by hand" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  list=/etc/apt/sources.list.d/bookworm-backports.list
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup: adding bookworm-backports for Mesa >= 24" >&2
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee "$list" >/dev/null
  fi
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q -t bookworm-backports mesa-vulkan-drivers libvulkan1 >&2
else
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q mesa-vulkan-drivers libvulkan1 >&2
fi
if probe=$(node scripts/probe-adapter.mjs 2>&1); then
  echo "setup: $probe"
else
  echo "setup: still $probe" >&2
  exit 1
fi
