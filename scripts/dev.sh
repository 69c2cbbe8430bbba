#!/usr/bin/env bash
# `make dev`: installs what is missing, starts DynamoDB Local persisted under .data/
# (DEV_DATA_DIR), creates the table if needed, serves the API with cargo lambda watch and
# feeds the table's stream to the aggregate function (as Lambda does on AWS).
# Ctrl-C, SIGTERM or SIGHUP (a closed terminal) stops everything it started, function
# instances included; so does this script's end by any other way (SIGKILL included): each
# process runs under devtools' guard (scripts/test-dev-signals.sh checks it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DDB_PORT="${DDB_PORT:-8000}"
API_PORT="${API_PORT:-9000}"
TABLE="links"
DATA="${DEV_DATA_DIR:-$ROOT/.data}"

trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

ensure_cargo_lambda
ensure_dynamodb_local
build_debug
mkdir -p "$DATA"
start_dynamodb_local "$DDB_PORT" "$DATA/dynamodb" "$DATA/dynamodb-local.log"
ensure_table "http://127.0.0.1:$DDB_PORT" "$TABLE"
STANDIN_LOG="$DATA/bedrock-standin.log" start_watch "$API_PORT" "$DDB_PORT" /dev/stderr
# Checkpoints beside the data: a restart of make dev neither skips nor repeats stream records.
start_poller "$DDB_PORT" "$API_PORT" "$DATA/stream-poller.log" "$DATA/stream-failures.jsonl" \
  "$DATA/stream-checkpoints.json"
log "DynamoDB Local: http://127.0.0.1:$DDB_PORT (data in $DATA/dynamodb, log in $DATA/dynamodb-local.log)"
log "API: http://127.0.0.1:$API_PORT  (functions compile on their first request)"
log "questions (POST /insights/ask): answered by the Bedrock stand-in on 127.0.0.1:${STANDIN_PORT:-$((API_PORT + 50))}, not a model (log in $DATA/bedrock-standin.log)"
log "aggregator: the table's stream -> aggregate (log in $DATA/stream-poller.log, records given up on in $DATA/stream-failures.jsonl)"
cat >&2 <<MSG
    curl -i -X POST http://127.0.0.1:$API_PORT/links -H 'content-type: application/json' -d '{"url":"https://example.com/"}'
    make key NAME=me ROLE=admin     # an API key for the management routes
    Ctrl-C stops DynamoDB Local and the watch.
MSG
# Ends when either process ends (or at Ctrl-C); the EXIT trap stops the other.
wait -n "${STARTED_PIDS[@]}"
