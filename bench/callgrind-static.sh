#!/usr/bin/env bash
# User-space instructions per request on the static path, counted by callgrind: a figure that does
# not move with the machine's noise (this VM has no hardware counters, and its clock-based
# figures move by 15 % from run to run). lidod ($LIDOD, else this checkout's build/bin/lidod)
# runs under valgrind with bench/lido-target.sh's configuration; h2load sends N1, then (a second
# engine) N2 requests for a 100-byte file; the difference of the two totals over N2 - N1 is the
# engine's cost per request, start-up and shutdown cancelled out.
#   bench/callgrind-static.sh [N1 N2]        (default 2000 12000; about 30 s)
# Needs valgrind, h2load (nghttp2-client) and ../shared/bench built (make -C ../shared/bench/apps).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="${BENCH_DIR:-$HERE/../../shared/bench}"
LIDOD="${LIDOD:-$HERE/../build/bin/lidod}"
N1="${1:-2000}" N2="${2:-12000}"
for tool in valgrind h2load curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
[ -x "$LIDOD" ] || { echo "no lidod at $LIDOD" >&2; exit 2; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/www"
head -c 100 /dev/zero | tr '\0' 'x' >"$WORK/www/hello.txt"
cat >"$WORK/lidod" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$LIDOD" "\$@"
EOF
chmod +x "$WORK/lidod"
export BENCH_PORT="${BENCH_PORT:-18099}" BENCH_ROOT="$WORK/root" BENCH_DOCROOT="$WORK/www"
export BENCH_FCGI_APP="$BENCH/build/fcgi-hello" BENCH_CGI_APP="$BENCH/build/cgi-hello" BENCH_LIB="$BENCH/lib/target-lib.sh"
URL="http://127.0.0.1:$BENCH_PORT/hello.txt"

# The engine's instructions for n requests, start to exit.
count() {
  rm -f "$WORK/callgrind.out"
  LIDOD="$WORK/lidod" "$HERE/lido-target.sh" start >/dev/null
  curl -sf -o /dev/null "$URL" || { echo "the engine does not answer $URL" >&2; exit 1; }
  h2load --h1 -n "$1" -c 8 "$URL" >"$WORK/h2load.txt" 2>&1
  grep -q "succeeded, 0 failed" "$WORK/h2load.txt" || { cat "$WORK/h2load.txt" >&2; exit 1; }
  pkill -INT -f "callgrind-out-file=$WORK/callgrind.out" || true
  for _ in $(seq 100); do
    [ -s "$WORK/callgrind.out" ] && ! pgrep -f "callgrind-out-file=$WORK/callgrind.out" >/dev/null && break
    sleep 0.2
  done
  LIDOD="$WORK/lidod" "$HERE/lido-target.sh" stop >/dev/null 2>&1 || true
  awk '/^totals:/ { print $2 }' "$WORK/callgrind.out"
}
a="$(count "$N1")"
b="$(count "$N2")"
echo "$(( (b - a) / (N2 - N1) )) user-space instructions per request ($LIDOD; $N1 and $N2 requests: $a and $b)"
