#!/usr/bin/env bash
# Lido with two I/O threads (lidod's default on two cores is one), as a target of ../shared/bench.
LIDO_BENCH_THREADS=2 exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lido-target.sh" "$@"
