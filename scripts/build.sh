#!/usr/bin/env bash
# Configures and builds Lido in ./build (Ninja, ccache). Used by scripts/run and scripts/test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
build=${LIDO_BUILD_DIR:-$root/build}
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Paths relative to the checkout, so that another clone of it (CI's) hits the same cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
# LIDO_CMAKE_ARGS: more -D options for this build folder (the sanitizer builds use it).
read -r -a extra <<<"${LIDO_CMAKE_ARGS:-}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIDO_WERROR=$werror "${extra[@]}" >/dev/null
else
  cmake -S "$root" -B "$build" -DLIDO_WERROR=$werror "${extra[@]}" >/dev/null
fi
ninja -C "$build" ${LIDO_NINJA_TARGETS:-}
