#!/usr/bin/env bash
# Configures and builds Lido in ./build (Ninja, ccache). Used by scripts/run and scripts/test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
build=${LIDO_BUILD_DIR:-$root/build}
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIDO_WERROR=$werror >/dev/null
else
  cmake -S "$root" -B "$build" -DLIDO_WERROR=$werror >/dev/null
fi
ninja -C "$build" ${LIDO_NINJA_TARGETS:-}
