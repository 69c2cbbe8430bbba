#!/usr/bin/env bash
# `make soak MINUTES=N`: mixed traffic against `make dev` for N minutes (loadgen's soak:
# creates anonymous, owned, with aliases and caps, human and bot visits with referrers
# and UTM sources, PATCH of caps and `disabled`, deletes), with one restart of make dev in
# the middle (an API key revoked just before it: refused after). At the end: every link's
# stats and both rankings equal what was sent, deleted links are gone, no link went over
# its cap, the stream poller gave up on nothing, DynamoDB Local's memory stayed within
# SOAK_MAX_DDB_RSS_MB, and nothing make dev started is left running after each stop.
# make dev runs on ports of its own (SOAK_DDB_PORT, SOAK_API_PORT) with a fresh data dir.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
minutes="${MINUTES:-2}"
ddb_port="${SOAK_DDB_PORT:-8400}" api_port="${SOAK_API_PORT:-9400}"
max_rss_mb="${SOAK_MAX_DDB_RSS_MB:-2048}"
work="${SOAK_DIR:-$CARGO_TARGET_DIR/soak}"
rm -rf "$work"
mkdir -p "$work"
token="soak-$$"
api="http://127.0.0.1:$api_port"

ensure_cargo_lambda
ensure_dynamodb_local
build_debug
soak_bin="$CARGO_TARGET_DIR/debug/soak"

# Every process make dev started carries the marker in its environment.
marked() {
  # grep says 2 when a process ends while it reads /proc: not a failure here.
  { grep -lsa --null-data -x "DEV_SIGNAL_ROUND=$token" /proc/[0-9]*/environ 2>/dev/null || true; } \
    | sed -n 's#^/proc/\([0-9]*\)/environ$#\1#p' | tr '\n' ' '
}
leader=""
cleanup() {
  [ -z "$leader" ] || kill -KILL -- "-$leader" 2>/dev/null || true
  for p in $(marked); do kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_dev() {
  log "make dev ($1) on :$api_port, DynamoDB Local on :$ddb_port"
  setsid env --default-signal DEV_SIGNAL_ROUND="$token" DDB_PORT="$ddb_port" API_PORT="$api_port" \
    DEV_DATA_DIR="$work/data" make -C "$ROOT" --no-print-directory dev >"$work/dev-$1.log" 2>&1 </dev/null &
  leader=$! dev_log="$work/dev-$1.log"
  wait_http "$api/health" 300 || { tail -30 "$work/dev-$1.log"; die "make dev did not serve /health"; }
}

# stop_dev: SIGTERM to make dev's group; everything it started must be gone in 15 s.
left_over=0 force_stops=0
stop_dev() {
  # Function instances the watch killed while make dev ran (a request in flight would be
  # lost): counted before the stop, which ends every instance on purpose.
  force_stops=$((force_stops + $(grep -c "ForceStop" "$dev_log" || true)))
  kill -TERM -- "-$leader" 2>/dev/null || true
  local alive
  for _ in $(seq 150); do
    alive="$(marked)"
    [ -z "$alive" ] && ! port_open "$ddb_port" && ! port_open "$api_port" && break
    sleep 0.1
  done
  wait "$leader" 2>/dev/null || true
  leader=""
  alive="$(marked)"
  if [ -n "$alive" ] || port_open "$ddb_port" || port_open "$api_port"; then
    echo "MISS processes left after make dev stopped: $alive"
    left_over=1
  fi
}

ddb_rss_mb() {
  local pid
  pid="$(for p in $(marked); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = java ] && echo "$p"; done | head -1)"
  [ -n "$pid" ] && awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status" || echo 0
}

# The keys tool built above, on the soak's DynamoDB Local (what make key runs).
keys() {
  TABLE_NAME=links AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
    AWS_ENDPOINT_URL="http://127.0.0.1:$ddb_port" "$CARGO_TARGET_DIR/debug/keys" "$@"
}
key() { keys create --name "$1" --role "$2" 2>/dev/null; }

start_dev first
admin="$(key soak-admin admin)" user="$(key soak-user user)" revoked="$(key soak-revoked user)"
[ -n "$admin" ] && [ -n "$user" ] && [ -n "$revoked" ] || die "could not issue the soak's keys"
half=$((minutes * 60 / 2))
soak() {
  "$soak_bin" --url "$api" --state "$work/state.json" --admin-key "$admin" --user-key "$user" \
    --revoked-key "$revoked" "$@"
}
# A run phase that saw failed requests still goes on to the checks (reported at the end),
# so that one bad minute does not hide what the rest of the soak found.
sent=0
log "soak: ${half} s of mixed traffic"
soak --phase run --seconds "$half" | tee "$work/run-1.log" || sent=1
rss1="$(ddb_rss_mb)"
log "revoking soak-revoked, then restarting make dev"
rid="$(keys list | awk '$NF == "soak-revoked" {print $1}')" || die "could not list the keys"
keys revoke "$rid" >/dev/null || die "could not revoke $rid"
stop_dev
start_dev second
log "soak: ${half} s more, after the restart"
soak --phase run --seconds "$half" | tee "$work/run-2.log" || sent=1
log "soak: checking every link, and the rankings once the aggregator caught up"
verified=0
soak --phase verify --seconds 0 --wait 180 | tee "$work/verify.log" || verified=1
rss2="$(ddb_rss_mb)"
poller=0
if [ -s "$work/data/stream-failures.jsonl" ] || grep -q "gave up" "$work/data/stream-poller.log"; then
  echo "MISS the stream poller gave up on records: $work/data/stream-failures.jsonl"
  poller=1
fi
stop_dev
memory=0
if [ "$rss1" -gt "$max_rss_mb" ] || [ "$rss2" -gt "$max_rss_mb" ]; then
  echo "MISS DynamoDB Local's memory: ${rss1} MB then ${rss2} MB, above ${max_rss_mb} MB"
  memory=1
fi
printf '\n%-44s %s\n' "check" "result"
printf '%-44s %s\n' "every request answered (no transport error, no 5xx)" "$([ $sent = 0 ] && echo ok || echo MISS)"
printf '%-44s %s\n' "stats, rankings, deletes, caps, revoked key" "$([ $verified = 0 ] && echo ok || echo MISS)"
printf '%-44s %s\n' "stream poller gave up on nothing" "$([ $poller = 0 ] && echo ok || echo MISS)"
printf '%-44s %s\n' "DynamoDB Local RSS (MB, mid and end)" "$rss1, $rss2 (bound $max_rss_mb): $([ $memory = 0 ] && echo ok || echo MISS)"
printf '%-44s %s\n' "nothing left running after each stop" "$([ $left_over = 0 ] && echo ok || echo MISS)"
printf '%-44s %s\n' "no function instance killed (ForceStop)" "$force_stops: $([ $force_stops = 0 ] && echo ok || echo MISS)"
[ $((sent + verified + poller + memory + left_over + force_stops)) = 0 ] || die "make soak found misses (logs in $work)"
log "soak of $minutes minutes: all checks passed"
