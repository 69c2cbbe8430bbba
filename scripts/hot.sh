#!/usr/bin/env bash
# `make hot`: one hot link, measured through DynamoDB's throttling. Starts DynamoDB Local
# (in memory), the throttling emulator in front of it (devtools/src/bin/throttle-proxy.rs:
# HOT_LIMIT write units a second per partition key value, reads 3 times that), the API with
# cargo lambda watch reaching DynamoDB through the emulator, and the stream poller; then
# loadgen's hot driver sends one link's human visits from HOT_CLIENTS concurrent clients
# for HOT_SECONDS, HOT_RATE a second in all (default 100: 20 times the default limit, under
# the 160 that 32 shards take at it; 0 = as fast as the clients go, which on an idle
# machine was more than the shards take, and the queue outlasted the wait), and checks,
# once the aggregator caught up, that every 302 was counted
# exactly once by the stats, the aggregator's total and today's ranking, with no 5xx.
# Report: target/bench/hot.json (HOT_OUT). Ports of its own (HOT_DDB_PORT, +1 for the
# emulator, HOT_API_PORT), so it runs beside make dev and make test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ddb_port="${HOT_DDB_PORT:-8500}" proxy_port="$(( ${HOT_DDB_PORT:-8500} + 1 ))"
api_port="${HOT_API_PORT:-9500}"
limit="${HOT_LIMIT:-5}" seconds="${HOT_SECONDS:-180}" clients="${HOT_CLIENTS:-32}" rate="${HOT_RATE:-100}"
out="${HOT_OUT:-$CARGO_TARGET_DIR/bench/hot.json}"
logs="${HOT_LOGS:-$CARGO_TARGET_DIR/hot}"
mkdir -p "$logs" "$(dirname "$out")"

trap stop_all EXIT
trap 'exit 130' INT TERM

ensure_cargo_lambda
ensure_dynamodb_local
build_debug

start_dynamodb_local "$ddb_port" inMemory "$logs/dynamodb-local.log"
ensure_table "http://127.0.0.1:$ddb_port" links
log "throttling emulator on 127.0.0.1:$proxy_port: $limit write units a second per partition key"
(exec "$GUARD" -- "$CARGO_TARGET_DIR/debug/throttle-proxy" --listen "$proxy_port" \
  --upstream "http://127.0.0.1:$ddb_port" --write-units "$limit" >"$logs/throttle-proxy.log" 2>&1) &
STARTED_PIDS+=("$!")
start_watch "$api_port" "$proxy_port" "$logs/watch.log" --ignore-changes
wait_http "http://127.0.0.1:$api_port/" 120 || { tail -30 "$logs/watch.log"; die "cargo lambda watch did not start"; }
# The poller reads the stream from DynamoDB Local itself; the aggregate function it invokes
# reaches the table through the emulator, as every function does.
start_poller "$ddb_port" "$api_port" "$logs/stream-poller.log" "$logs/stream-failures.jsonl"
admin="$(DDB_PORT="$ddb_port" TABLE_NAME='' "$ROOT/scripts/keys.sh" create --name hot --role admin 2>/dev/null)" \
  || die "could not issue an admin key"
ok=0
"$CARGO_TARGET_DIR/debug/hot" --url "http://127.0.0.1:$api_port" --ddb "http://127.0.0.1:$ddb_port" \
  --proxy "http://127.0.0.1:$proxy_port" --admin-key "$admin" --limit "$limit" \
  --seconds "$seconds" --concurrency "$clients" --wait "${HOT_WAIT:-180}" --out "$out" --rate "$rate" || ok=$?
if [ -s "$logs/stream-failures.jsonl" ] || grep -q "gave up" "$logs/stream-poller.log"; then
  echo "MISS the stream poller gave up on records ($logs/stream-failures.jsonl)"; ok=1
fi
forced="$(grep -c ForceStop "$logs/watch.log" || true)"
[ "$forced" = 0 ] || { echo "MISS $forced function instances killed (ForceStop)"; ok=1; }
grep -h "counter throttled\|queued visits counted\|not counted yet" "$logs/watch.log" | tail -3 || true
[ "$ok" = 0 ] || die "make hot found misses (logs in $logs)"
log "make hot: every visit counted once, report in $out"
