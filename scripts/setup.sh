#!/usr/bin/env bash
# Idempotent set-up for a bare Debian 12 machine (CI's or a user's): node modules; Chromium for the
# browser tests (test/browser/, optional: they skip without it); then, only when Dawn finds no WebGPU
# adapter, the Vulkan loader and Mesa's lavapipe >= 24 from bookworm-backports (bookworm's own Mesa
# 22.3 is rejected by Dawn). Prints the adapter it ends with.
# Usage: bash scripts/setup.sh [--quiet]    GLASS_BROWSER=0 leaves Chromium out (and skips its tests).
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

# 2. Chromium for the browser tests (test/browser/), from apt when missing: Debian's package runs
#    WebGPU on its bundled SwiftShader. Optional: a failure prints one line and those tests skip.
#    Without root it only uses a sudo that asks no password. A failed try leaves a marker that
#    --quiet runs (npm test) respect, so a machine that cannot install is not retried on every
#    run; `npm run setup` retries. GLASS_CHROMIUM names another browser binary.
have_chromium() {
  if [ -n "${GLASS_CHROMIUM:-}" ]; then [ -x "$GLASS_CHROMIUM" ]; return; fi
  command -v chromium || command -v chromium-browser || command -v google-chrome-stable || command -v google-chrome
} >/dev/null 2>&1
chromium_marker=node_modules/.cache/glass-ts/chromium-install-failed
if [ "${GLASS_BROWSER:-1}" != 0 ] && ! have_chromium && command -v apt-get >/dev/null \
   && { [ "$quiet" != --quiet ] || [ ! -e "$chromium_marker" ]; }; then
  csudo=""; [ "$(id -u)" = 0 ] || csudo="sudo -n"
  log=$(mktemp); t0=$SECONDS
  say "installing chromium (apt) for the browser tests"
  if { [ -z "$csudo" ] || sudo -n true; } >"$log" 2>&1 \
     && $csudo apt-get update -qq >>"$log" 2>&1 \
     && DEBIAN_FRONTEND=noninteractive $csudo apt-get install -y -qq --no-install-recommends chromium >>"$log" 2>&1 \
     && have_chromium; then
    rm -f "$chromium_marker"
    echo "setup: installed chromium for the browser tests ($((SECONDS - t0))s)" >&2
  else
    { mkdir -p "$(dirname "$chromium_marker")" && date >"$chromium_marker"; } 2>/dev/null || true
    echo "setup: chromium not installed, browser tests will skip ($(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | cut -c1-160 || true))" >&2
  fi
  rm -f "$log"
fi

# 3. A WebGPU adapter: try Dawn first, install a software Vulkan driver only if that fails.
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
