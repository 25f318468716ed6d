#!/usr/bin/env bash
# Lido with its FastCGI instances under the kernel's default scheduling policy
# (schedulingPolicy="Normal"; Lido's default is Batch), as a target of ../shared/bench.
LIDO_BENCH_SCHEDULING=Normal exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lido-target.sh" "$@"
