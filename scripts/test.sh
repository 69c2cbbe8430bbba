#!/usr/bin/env bash
# `make test`: every test the project has. Starts its own DynamoDB Local (in memory) and
# cargo lambda watch on ports of their own, so it runs beside `make dev`, and stops them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DDB_PORT="${TEST_DDB_PORT:-8100}"
API_PORT="${TEST_API_PORT:-9100}"
LOGS="$CARGO_TARGET_DIR/test-logs"
mkdir -p "$LOGS"

trap stop_all EXIT
trap 'exit 130' INT TERM

log "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

log "unit tests"
cargo test --workspace --exclude integration --locked

log "template: sam validate --lint, cfn-lint"
ensure_template_linters
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 sam validate --lint --region us-east-1 -t "$ROOT/template.yaml"
cfn-lint "$ROOT/template.yaml"

log "local stack"
ensure_cargo_lambda
ensure_dynamodb_local
# Built before the watch starts, so that no test waits for a first-request compile.
cargo build --locked -p create -p redirect -p stats
start_dynamodb_local "$DDB_PORT" inMemory "$LOGS/dynamodb-local.log"
ensure_table "http://127.0.0.1:$DDB_PORT" links
start_watch "$API_PORT" "$DDB_PORT" "$LOGS/watch.log"
wait_http "http://127.0.0.1:$API_PORT/" 120 || { tail -50 "$LOGS/watch.log"; die "cargo lambda watch did not start"; }

log "integration tests (DynamoDB Local) and end-to-end tests (HTTP through cargo lambda watch)"
DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" API_URL="http://127.0.0.1:$API_PORT" TABLE_NAME=links \
  cargo test --locked -p integration -- --test-threads 4 \
  || { tail -40 "$LOGS/watch.log"; die "integration tests failed (logs in $LOGS)"; }

log "sample events through cargo lambda invoke"
"$ROOT/scripts/invoke-events.sh" "$API_PORT"

log "all tests passed"
