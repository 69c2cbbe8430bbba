#!/usr/bin/env bash
# The scale tests (thousands of links aggregated, ranked and totalled: minutes of DynamoDB
# Local's time), on an in-memory DynamoDB Local of their own, so that make test runs them
# beside its other stages instead of after them. They are `#[ignore = "scale: ..."]` in
# integration/tests/ and need nothing but DynamoDB (each makes a table of its own); run
# alone: scripts/test-scale.sh [DYNAMODB_PORT] [LOG_DIR].
set -euo pipefail
source "$(dirname "$0")/lib.sh"
port="${1:-8700}"
logs="${2:-$CARGO_TARGET_DIR/test-logs/scale}"
mkdir -p "$logs"

trap stop_all EXIT
trap 'exit 130' INT TERM

ensure_dynamodb_local
build_debug
start_dynamodb_local "$port" inMemory "$logs/dynamodb-local.log"
# Waits for it to answer (the tests make tables of their own; this one is not used).
ensure_table "http://127.0.0.1:$port" links
# --exact names: every ignored test of those files is a scale test (the list below, file
# and test, is checked against them, so that none is left unrun).
tests=(
  ranking:ranking_of_20000_links_costs_two_requests
  owners:each_owner_ranked_and_totalled_exactly_in_two_requests
)
found="$(cargo test --locked -q --test ranking --test owners -- --ignored --list 2>/dev/null | sed -n 's/: test$//p' | sort)"
wanted="$(printf '%s\n' "${tests[@]#*:}" | sort)"
[ "$found" = "$wanted" ] || die "the ignored tests of ranking.rs and owners.rs are not the scale tests listed here: $(echo $found)"
# All at once, each in a process of its own on a table of its own: most of their time is
# DynamoDB Local's, whose JVM answers them on both cores, and a test waiting for an answer
# leaves the CPU to the others (one after the other, they took 356 s + 234 s).
pids=()
for t in "${tests[@]}"; do
  DYNAMODB_ENDPOINT="http://127.0.0.1:$port" TABLE_NAME=links \
    cargo test --locked -q --test "${t%%:*}" -- --ignored --exact "${t#*:}" >"$logs/${t%%:*}.log" 2>&1 &
  pids+=("$!")
done
rc=0
for i in "${!tests[@]}"; do
  wait "${pids[$i]}" || { rc=1; echo "the scale test ${tests[$i]} failed" >&2; }
  cat "$logs/${tests[$i]%%:*}.log"
done
exit "$rc"
