#!/usr/bin/env bash
# `make bench`: release bootstrap.zip of each function (cargo lambda build), run under a fake
# Lambda Runtime API against an in-memory DynamoDB Local, beside a Python reference.
# BENCH_INVOCATIONS (default 5000) sets the warm invocations per function; BENCH_ONLY
# ("redirect,python,floor,crates-floor") picks functions; BENCH_WRAP ("strace -f -o
# trace.txt") runs each bootstrap under a profiler (its figures then measure it too).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N="${BENCH_INVOCATIONS:-5000}"
DDB_PORT="${BENCH_DDB_PORT:-8200}"
OUT="$CARGO_TARGET_DIR/bench"
REPORT="${BENCH_REPORT:-$OUT/report.json}"

trap stop_all EXIT
trap 'exit 130' INT TERM

prepare_bench "$OUT" "$DDB_PORT"
run_bench "$OUT" "$DDB_PORT" --invocations "$N" --out "$REPORT" \
  ${BENCH_ONLY:+--only "$BENCH_ONLY"} ${BENCH_WRAP:+--wrap "$BENCH_WRAP"}
