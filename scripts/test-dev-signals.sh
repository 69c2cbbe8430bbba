#!/usr/bin/env bash
# `make dev` leaves nothing behind: for each of TERM, HUP and INT sent to its whole process
# group (as a terminal or a process manager does), every process it started (DynamoDB
# Local, cargo lambda watch, the function instances, the stream poller) ends and both ports are free.
# Usage: scripts/test-dev-signals.sh DYNAMODB_PORT API_PORT WORK_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ddb_port="$1" api_port="$2" work="$3"
mkdir -p "$work"

# descendants PID: every process below PID, whatever its process group or session.
descendants() {
  local p child
  for p in "$@"; do
    for child in $(ps -o pid= --ppid "$p" 2>/dev/null); do
      echo "$child"
      descendants "$child"
    done
  done
}

passed=0 failed=0
for sig in TERM HUP INT; do
  log "make dev, then SIG$sig to its process group"
  # setsid: its own session and process group, as from a terminal. A script's background
  # job starts with SIGINT ignored; --default-signal gives make dev a terminal's Ctrl-C.
  setsid env --default-signal=INT DDB_PORT="$ddb_port" API_PORT="$api_port" DEV_DATA_DIR="$work/data" \
    make -C "$ROOT" --no-print-directory dev >"$work/dev-$sig.log" 2>&1 </dev/null &
  leader=$!
  if ! wait_http "http://127.0.0.1:$api_port/health" 120; then
    tail -20 "$work/dev-$sig.log"; kill -KILL -- "-$leader" 2>/dev/null || true
    die "make dev did not serve /health"
  fi
  # A function instance runs now (health answered), under cargo lambda watch.
  curl -s -o /dev/null "http://127.0.0.1:$api_port/health"
  started="$(descendants "$leader" | sort -u)"
  instances="$(for p in $started; do cat "/proc/$p/comm" 2>/dev/null; done | grep -cx health || true)"
  pollers="$(for p in $started; do cat "/proc/$p/comm" 2>/dev/null; done | grep -cx stream-poller || true)"
  kill -"$sig" -- "-$leader"
  # Everything must end by itself within 20 s (stop_all allows each group 5 s to go).
  for _ in $(seq 200); do
    alive=0
    for p in $leader $started; do kill -0 "$p" 2>/dev/null && alive=1 && break; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  left=""
  for p in $started; do
    if kill -0 "$p" 2>/dev/null; then left="$left $p($(cat "/proc/$p/comm" 2>/dev/null))"; fi
  done
  busy=""
  port_open "$ddb_port" && busy="$busy $ddb_port"
  port_open "$api_port" && busy="$busy $api_port"
  if kill -0 "$leader" 2>/dev/null || [ -n "$left" ] || [ -n "$busy" ] || [ "$instances" -lt 1 ] || [ "$pollers" != 1 ]; then
    echo "FAIL SIG$sig: make alive=$(kill -0 "$leader" 2>/dev/null && echo yes || echo no) left:${left:- none} ports:${busy:- free} health instances seen: $instances, stream pollers: $pollers"
    for p in $started; do kill -KILL "$p" 2>/dev/null || true; done
    failed=$((failed + 1))
  else
    echo "ok   SIG$sig: $(echo "$started" | wc -w) processes ended (health instances: $instances), ports $ddb_port and $api_port free"
    passed=$((passed + 1))
  fi
done
echo "make dev signals: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
