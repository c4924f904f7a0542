#!/usr/bin/env bash
# The GPU path: runs the kernel tests, then `bench all` (with the full GLASS shapes) on a Linux host
# with an NVIDIA GPU in one go, within 8 minutes. The tests come first because a kernel can be
# fast and wrong on a GPU the suite never ran on (a 32-lane warp, say): their log sits next to
# the timings. Written for the hosts the device tool lends: no Vulkan loader, no
# Node.js, no network. Everything it needs travels in ignored folders next to the repository:
#   .gl/*.deb     Vulkan/EGL loader packages, unpacked into / here (--pack fetches them with
#                 apt-get download libvulkan1 libegl1 libglvnd0 ..., as the device tool's notes say)
#   .node/node.xz a static-enough x86-64 Node 20 binary, xz-compressed (xz -9 < $(which node))
#   .nm/          a trimmed node_modules: webgpu (linux-x64 only), tsx, esbuild, @esbuild/linux-x64,
#                 get-tsconfig, resolve-pkg-maps, pngjs, jpeg-js, and uvu with its dependencies
#                 (dequal, diff, kleur, sade, mri) for the tests; tfjs (69 MiB) does not fit, so
#                 the GPU table has no tfjs column
# Prepare all three with `bash bench/gpu.sh --pack` on the development machine (idempotent); the
# carried size must stay under the device tool's 64 MiB.
# Usage on the GPU host:  bash bench/gpu.sh [OUT_DIR]
#   writes OUT_DIR/adapter.txt, tests-gpu.txt (the engine, GLASS and backbone tests on that GPU),
#   bench-gpu.json and .txt (every suite, paper sizes included, each case with its per-kernel
#   profile and rates), bench-gpu-tuned.json and .txt
#   (matmul with variants autotuned there)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --pack ]; then
  rm -rf .nm && mkdir -p .node .nm .gl # .nm afresh: cp -r into an existing folder would nest it
  # the loader packages, fetched once (amd64 lists in /tmp so the machine's own apt state is untouched)
  if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
    mkdir -p /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update -qq
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  fi
  xz -9 -c "$(command -v node)" > .node/node.xz
  for m in webgpu tsx esbuild @esbuild/linux-x64 get-tsconfig resolve-pkg-maps pngjs jpeg-js uvu dequal diff kleur sade mri; do
    [ -d "node_modules/$m" ] && mkdir -p ".nm/$(dirname "$m")" && cp -r "node_modules/$m" ".nm/$m"
  done
  rm -rf .nm/webgpu/dist/{darwin-universal,linux-arm64,win32-*}
  # esbuild's JS API runs the binary in @esbuild/linux-x64; its own bin/ copy is the CLI's (11 MiB)
  rm -f .nm/esbuild/bin/esbuild
  du -sh .node .nm .gl 2>/dev/null || true
  exit 0
fi

OUT=${1:-${OUT:-/tmp/glass-bench}}
mkdir -p "$OUT"
# 1. Vulkan loader from carried packages when the host has none
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; break; fi
done
export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
# 2. Node and modules
if ! command -v node >/dev/null; then
  mkdir -p /tmp/node/bin
  xz -dc .node/node.xz > /tmp/node/bin/node && chmod +x /tmp/node/bin/node
  export PATH=/tmp/node/bin:$PATH
fi
[ -d node_modules/webgpu ] || { rm -rf node_modules; cp -r .nm node_modules; }
# 3. Adapter; the kernel tests (a failure is reported, not fatal: the timings still come back);
#    then every suite (paper-size cases included), one JSON
node scripts/probe-adapter.mjs | tee "$OUT/adapter.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader >> "$OUT/adapter.txt" 2>/dev/null || true
timeout 90 node --import tsx test/run.ts test/engine/ test/glass/gas test/glass/parity test/glass/embed test/models/ > "$OUT/tests-gpu.txt" 2>&1 \
  || echo "gpu.sh: the tests failed or timed out (exit $?); see tests-gpu.txt" | tee -a "$OUT/tests-gpu.txt"
tail -n 2 "$OUT/tests-gpu.txt"
timeout 270 node --import tsx bench/main.ts all --full --profile --json "$OUT/bench-gpu.json" 2>&1 | tee "$OUT/bench-gpu.txt" \
  || echo "gpu.sh: bench all exited $? (124: timed out)" | tee -a "$OUT/bench-gpu.txt"
# 4. matmul again with the variants tuned on this GPU (the defaults were tuned on lavapipe); the
#    square 4096 row is the one to compare with the card's fp32 peak
timeout 100 node --import tsx bench/main.ts matmul --full --autotune --json "$OUT/bench-gpu-tuned.json" 2>&1 | tee "$OUT/bench-gpu-tuned.txt" \
  || echo "gpu.sh: tuned matmul exited $? (124: timed out)" | tee -a "$OUT/bench-gpu-tuned.txt"
