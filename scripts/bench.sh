#!/usr/bin/env bash
# `make bench`: release bootstrap.zip of each function (cargo lambda build), run under a fake
# Lambda Runtime API against an in-memory DynamoDB Local, beside a Python reference.
# BENCH_INVOCATIONS (default 5000) sets the warm invocations per function; BENCH_ONLY
# ("redirect,python,floor") picks functions; BENCH_WRAP ("strace -f -o trace.txt") runs each bootstrap
# under a profiler (its figures then measure the profiler too).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N="${BENCH_INVOCATIONS:-5000}"
DDB_PORT="${BENCH_DDB_PORT:-8200}"
OUT="$CARGO_TARGET_DIR/bench"
REPORT="${BENCH_REPORT:-$OUT/report.json}"

trap stop_all EXIT
trap 'exit 130' INT TERM

ensure_cargo_lambda
ensure_dynamodb_local
ensure_python_reference

build_bench "$OUT/lambda"

start_dynamodb_local "$DDB_PORT" inMemory "$OUT/dynamodb-local.log"
ensure_table "http://127.0.0.1:$DDB_PORT" bench

AWS_ENDPOINT_URL="http://127.0.0.1:$DDB_PORT" AWS_REGION=us-east-1 \
AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
  "$CARGO_TARGET_DIR/release/bench" --endpoint "http://127.0.0.1:$DDB_PORT" --table bench \
    --lambda-dir "$OUT/lambda" --invocations "$N" \
    --python "$PYREF_VENV/bin/python" --python-dir "$ROOT/bench/python" \
    --floor "$CARGO_TARGET_DIR/release/io_floor" \
    --out "$REPORT" ${BENCH_ONLY:+--only "$BENCH_ONLY"} ${BENCH_WRAP:+--wrap "$BENCH_WRAP"}
