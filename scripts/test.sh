#!/usr/bin/env bash
# `make test`: every test the project has. Starts its own DynamoDB Local (persisted to a
# fresh folder under target/test-logs, for the restart stage) and cargo lambda watch on
# ports of their own, so it runs beside `make dev`, and stops them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DDB_PORT="${TEST_DDB_PORT:-8100}"
API_PORT="${TEST_API_PORT:-9100}"
LOGS="$CARGO_TARGET_DIR/test-logs"
mkdir -p "$LOGS"

trap stop_all EXIT
trap 'exit 130' INT TERM
# A fresh build gains nothing from incremental compilation, which costs some of its time;
# every cargo below (cargo lambda watch's too) inherits it, so none builds anything again.
export CARGO_INCREMENTAL=0
# Clippy's lints are part of that one build: clippy-driver, which `cargo clippy` runs, is
# rustc with the lints added, and as the workspace's wrapper it compiles the project's own
# crates and lints them on the way (CLIPPY_ARGS is how cargo clippy hands it `-D warnings`).
# The same lints as `cargo clippy --workspace --all-targets -- -D warnings` (make lint): the
# unit stage builds the libraries, every test target and the binaries the tests run,
# build_debug every binary. A separate clippy run checked every dependency again in a
# target directory of its own, minutes of CPU beside the stages (docs/testing.md).
# Exported: every cargo below builds the same units (the wrapper is part of a unit's hash;
# make dev's builds without it live beside these).
command -v clippy-driver >/dev/null || die "clippy is needed: rustup component add clippy"
export RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# Each stage's seconds, printed at the end and written to target/test-logs/timings.json
# (stage -> seconds, and total), so that a slow stage shows (docs/testing.md). Beside them,
# the share of the machine's CPU time left idle during each stage of this script (from
# /proc/stat): where it is high, a stage beside could have run faster.
STAGE_KEYS=() STAGE_SECS=() STAGE_IDLE=() stage_key="" stage_started=0 stage_cpu=""
# cpu_times: "idle total" jiffies of every CPU since boot (idle counts iowait too).
cpu_times() {
  local _ user nice system idle iowait irq softirq steal
  read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
  echo "$((idle + iowait)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
}
end_stage() {
  if [ -n "$stage_key" ]; then
    local now idle0 total0 idle1 total1
    now="$(cpu_times)"; read -r idle0 total0 <<<"$stage_cpu"; read -r idle1 total1 <<<"$now"
    STAGE_KEYS+=("$stage_key"); STAGE_SECS+=("$((SECONDS - stage_started))")
    STAGE_IDLE+=("$(( total1 > total0 ? 100 * (idle1 - idle0) / (total1 - total0) : 0 ))%")
  fi
  stage_key=""
}
stage() { end_stage; stage_key="$1" stage_started=$SECONDS stage_cpu="$(cpu_times)"; log "$2"; }
print_timings() {
  local i json="{"
  printf '\033[1mstage times (s), and the CPU left idle during each:\033[0m\n' >&2
  if [ -s "${SIDE_TIMES:-}" ]; then
    while read -r key secs; do STAGE_KEYS+=("$key"); STAGE_SECS+=("$secs"); STAGE_IDLE+=(""); done <"$SIDE_TIMES"
  fi
  for i in "${!STAGE_KEYS[@]}"; do
    printf '  %-20s %5d %5s\n' "${STAGE_KEYS[$i]}" "${STAGE_SECS[$i]}" "${STAGE_IDLE[$i]}" >&2
    json+="\"${STAGE_KEYS[$i]}\": ${STAGE_SECS[$i]}, "
  done
  printf '  %-20s %5d\n' total "$SECONDS" >&2
  echo "${json}\"total\": $SECONDS}" >"$LOGS/timings.json"
}

# Every tool the stages below need, installed into .tools/ while cargo compiles (on a fresh
# clone some five minutes of downloads, mostly waiting on the network). In a session of its
# own, so that stop_all ends pip or npm too; the stages that need a tool wait for it. At
# autogroup nice 10: each session is an autogroup of the scheduler, which shares the CPU
# between sessions, not processes, and at equal weight pip's own CPU (resolving, byte-
# compiling) took up to half of the machine from the build.
log "installing what is missing into .tools/ in the background (log: $LOGS/install.log)"
# In the order the stages need them: what the local stack needs (cargo lambda, DynamoDB
# Local, and the Python reference of the benchmark smoke run), so that the stack and the
# integration tests start as soon as the build is done;
# then what the stages after them need (schemathesis, the browser); last the template
# checks' tools (SAM CLI, cfn-lint, checkov: most of the install), whose stages run late.
STACK_TOOLS="$LOGS/.stack-tools-installed" BROWSER_TOOLS="$LOGS/.browser-tools-installed"
rm -f "$STACK_TOOLS" "$BROWSER_TOOLS"
setsid bash -c '{ echo 10 >/proc/self/autogroup; } 2>/dev/null || true
  set -euo pipefail; source "$1/scripts/lib.sh"
  ensure_cargo_lambda; ensure_dynamodb_local; touch "$2"; ensure_python_reference
  ensure_schemathesis; ensure_playwright; ensure_axe; touch "$3"
  ensure_template_linters; ensure_checkov' _ "$ROOT" "$STACK_TOOLS" "$BROWSER_TOOLS" \
  >"$LOGS/install.log" 2>&1 &
INSTALL_PID="$!" tools_installed=""
STARTED_PIDS+=("$INSTALL_PID")
# While a stage waits for it, the install gets the default weight. Beside the integration
# stage it keeps nice 10: at the default weight there, a hot.rs counter write timed out.
install_weight() { { echo "$1" >"/proc/$INSTALL_PID/autogroup"; } 2>/dev/null || true; }
# installed MARKER NICE: waits for the install to reach MARKER (or to fail), then leaves it
# at NICE (10 beside the integration stage, 0 after it: at 10 there, SAM CLI's install
# took 8 minutes and the template checks waited 3 for it).
installed() {
  install_weight 0
  while [ ! -e "$1" ]; do
    kill -0 "$INSTALL_PID" 2>/dev/null || tools_ready
    sleep 0.5
  done
  install_weight "$2"
}
tools_ready() {
  [ -z "$tools_installed" ] || return 0
  install_weight 0
  wait "$INSTALL_PID" || { cat "$LOGS/install.log"; die "installing the test tools failed"; }
  tools_installed=1
  cat "$LOGS/install.log" >&2
}

stage fmt "format"
cargo fmt --all -- --check

stage unit "unit tests (first every test binary of the workspace, linted by clippy on the way: one debug build for every stage)"
# At the root, never -p: every build selects every member and resolves the same features,
# so that the stages below and cargo lambda watch compile nothing again (Cargo.toml,
# docs/testing.md "One debug build"). --no-run builds the integration tests as well.
cargo test --locked --no-run
# The libraries' unit tests and those of the binaries that have any (`test = false` in
# Cargo.toml for the others; `--bins` would build a test harness of each all the same).
mapfile -t unit_bins < <(cargo metadata --no-deps --format-version 1 --locked --offline | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    for t in p["targets"]:
        if t["kind"] == ["bin"] and t.get("test", True):
            print("--bin"); print(t["name"])')
cargo test --locked --lib "${unit_bins[@]}"

stage build "every binary (make dev's, the tools'): one debug build with the test binaries above"
# Before the watch starts, so that no test waits for a first-request compile (the same
# features as the test binaries above: their dependencies are reused).
build_debug

# Stages that share no state with the stack below (each starts make dev or its own
# DynamoDB Local on ports of its own) run beside it, in two chains, each in a session of
# its own (stop_all ends them): the scale tests then the benchmark smoke run, and make
# dev's signal rounds. Their times are printed with the others ("side:" in front); the
# last stage waits for them.
SIDE_LOG="$LOGS/side.log" SIGNALS_LOG="$LOGS/side-signals.log" SIDE_TIMES="$LOGS/side-times.txt"
rm -f "$SIDE_TIMES"
# side NICE COMMANDS LOG: COMMANDS (bash, with timed, $1 = the root, $2 = the logs) beside,
# in a session whose autogroup has that nice value: the scheduler shares the CPU between
# sessions (autogroups), so a chain that only needs CPU yields it to the stages that
# measure answers and their latency.
side() {
  setsid bash -c '{ echo "$5" >/proc/self/autogroup; } 2>/dev/null || true
    set -euo pipefail; source "$1/scripts/lib.sh"; logs="$2" times="$3"
    # Its status is the command'"'"'s (called with || below, a function runs without errexit).
    timed() { local key="$1" started=$SECONDS rc=0; shift; "$@" || rc=$?; echo "side:$key $((SECONDS - started))" >>"$times"; return "$rc"; }
    eval "$4"' _ "$ROOT" "$LOGS" "$SIDE_TIMES" "$2" "$1" >"$3" 2>&1 &
  STARTED_PIDS+=("$!")
}

# The scale tests (minutes of DynamoDB Local, on one of their own), then the benchmark
# smoke run: they count requests and check answers, not latency, so they start as soon as
# DynamoDB Local is installed and take the CPU the other stages leave (nice 5). At equal weight beside the integration
# stage, a counter write of hot.rs timed out (3 s) twice; beside the soak, a DELETE did.
installed "$STACK_TOOLS" 10
side 5 'timed scale "$1/scripts/test-scale.sh" '"${TEST_SCALE_DDB_PORT:-8700}"' "$logs/scale" >"$logs/scale.log" 2>&1 \
    || { tail -40 "$logs/scale.log"; echo "the scale tests failed (log in $logs/scale.log)"; exit 1; }
  timed bench-smoke env BENCH_BUILD=debug BENCH_INVOCATIONS=20 BENCH_REPORT="$logs/bench-smoke.json" \
    "$1/scripts/bench.sh" >"$logs/bench.log" 2>&1 \
    || { tail -30 "$logs/bench.log"; echo "make bench failed (log in $logs/bench.log)"; exit 1; }
  python3 "$1/scripts/check-bench-smoke.py" "$logs/bench-smoke.json"' "$SIDE_LOG"
SIDE_PID="$!"
log "beside the stages below: the scale tests then the benchmark smoke run (log: $SIDE_LOG)"

stage local-stack "local stack"
# In memory: the persisted store is 5 to 9 times slower under the scale tests (docs/testing.md);
# the restart stage below swaps in a persisted one of its own on the same port.
start_dynamodb_local "$DDB_PORT" inMemory "$LOGS/dynamodb-local.log"
ensure_table "http://127.0.0.1:$DDB_PORT" links
# Short cache lifetimes, so that the tests can prove a change or a revoked key reaches
# every warm function within them (60 s each by default).
export LINK_CACHE_SECONDS=2 KEY_CACHE_SECONDS=1
# As behind the CloudFront edge: requests that carry the local edge secret (the tests'
# clients add it) are trusted with CloudFront-Viewer-Country; others are not
# (integration/tests/trust.rs).
export EDGE_SECRET="$LOCAL_EDGE_SECRET"
# CORS for one origin, as CorsAllowOrigins would set it (the browser test below).
CORS_PORT="${TEST_CORS_PORT:-9155}"
export CORS_ALLOW_ORIGINS="http://127.0.0.1:$CORS_PORT"
# --ignore-changes: nothing is edited during a test run, and a reload would stop every
# function instance, requests in flight included ("command killed code=ForceStop").
# BEDROCK_TIMEOUT_MS: a question's budget, short here so that the late-model test
# (integration/tests/ask.rs) waits 3 s, not the deployed 20 s.
BEDROCK_TIMEOUT_MS=3000 start_watch "$API_PORT" "$DDB_PORT" "$LOGS/watch.log" --ignore-changes \
  --env-var "LINK_CACHE_SECONDS=$LINK_CACHE_SECONDS" --env-var "KEY_CACHE_SECONDS=$KEY_CACHE_SECONDS"
wait_http "http://127.0.0.1:$API_PORT/" 120 || { tail -50 "$LOGS/watch.log"; die "cargo lambda watch did not start"; }
rm -f "$LOGS/stream-failures.jsonl"
start_poller "$DDB_PORT" "$API_PORT" "$LOGS/stream-poller.log" "$LOGS/stream-failures.jsonl"

stage integration "integration tests (DynamoDB Local) and end-to-end tests (HTTP through cargo lambda watch)"
# WATCH_LOG: the functions' log, which must never hold a password (integration/tests/protect.rs).
# BEDROCK_STANDIN_URL: the stand-in start_watch started for the API (its forced faults
# and the requests it received: integration/tests/ask.rs).
DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" API_URL="http://127.0.0.1:$API_PORT" TABLE_NAME=links \
  WATCH_LOG="$LOGS/watch.log" BEDROCK_STANDIN_URL="http://127.0.0.1:$((API_PORT + 50))" cargo test --locked --test '*' -- --test-threads 4 \
  || { tail -40 "$LOGS/watch.log"; die "integration tests failed (logs in $LOGS)"; }

# make dev's signal rounds, after the integration stage (beside it, with the scale tests, a
# hot.rs counter write timed out on the starved machine). They check that make dev stops
# in time: at the default weight. The stages beside are the busy machine: no CPU hogs of
# their own here.
side 0 'timed dev-signals env DEV_SIGNALS_HOGS=0 "$1/scripts/test-dev-signals.sh" '"${TEST_DEV_DDB_PORT:-8300} ${TEST_DEV_API_PORT:-9300}"' "$logs/dev-signals"' "$SIGNALS_LOG"
SIGNALS_PID="$!"
log "beside the stages below: make dev's signal rounds (log: $SIGNALS_LOG)"
installed "$BROWSER_TOOLS" 0

stage schemathesis "OpenAPI: schemathesis $SCHEMATHESIS_VERSION checks every operation of openapi.json against the API"
st_key="$(DDB_PORT="$DDB_PORT" TABLE_NAME='' "$ROOT/scripts/keys.sh" create --name schemathesis --role admin 2>/dev/null)"
[ -n "$st_key" ] || die "could not issue a key for schemathesis"
# Positive mode with every check but two, for the local emulator's sake (docs/testing.md):
# positive_data_acceptance (a schema cannot say that a cursor must be one we issued, or
# that `from` comes before `to`) and unsupported_method (cargo lambda watch cannot send
# every unknown method on /links to create, as API Gateway's ANY route does). Redirects
# are never followed: a created link may point anywhere.
(cd "$LOGS" && "$TOOLS/schemathesis/bin/st" run "$ROOT/openapi.json" --url "http://127.0.0.1:$API_PORT" \
  -H "Authorization: Bearer $st_key" --max-redirects 0 --mode positive \
  --exclude-checks positive_data_acceptance,unsupported_method --generation-database none \
  --generation-with-security-parameters false --max-examples 50 --no-color) \
  || { tail -40 "$LOGS/watch.log"; die "schemathesis found responses that openapi.json does not describe"; }

stage stats-page "the stats page in headless Chromium (screenshot: target/test-logs/page/stats-page.png)"
"$ROOT/scripts/test-page.sh" "$API_PORT" "$LOGS/page"

stage console "the console (/admin) in Chromium: node --test, then every scenario through Playwright with axe-core (screenshots: target/test-logs/console/)"
"$ROOT/scripts/test-console.sh" "$API_PORT" "$DDB_PORT" "$LOGS/console"

stage cors "CORS in headless Chromium: fetch from an allowed origin and from another"
"$ROOT/scripts/test-cors.sh" "$API_PORT" "$DDB_PORT" "$CORS_PORT" "$((CORS_PORT + 1))" "$LOGS/cors"

stage events "sample events through cargo lambda invoke"
"$ROOT/scripts/invoke-events.sh" "$API_PORT" "$DDB_PORT"

stage poller "the stream poller gave up on nothing, and no record failed the aggregator"
if [ -s "$LOGS/stream-failures.jsonl" ] || grep -q "gave up\|function error" "$LOGS/stream-poller.log"; then
  cat "$LOGS/stream-poller.log"; die "the stream poller gave up on records (see $LOGS/stream-failures.jsonl)"
fi

stage load "load generator: make load on a small N (every link's stats and both rankings checked)"
URL="http://127.0.0.1:$API_PORT" DDB_PORT="$DDB_PORT" N="${TEST_LOAD_N:-600}" C=8 WAIT=120 LOAD_PROFILE=dev \
  "$ROOT/scripts/load.sh" >"$LOGS/load.log" 2>&1 \
  || { cat "$LOGS/load.log"; tail -20 "$LOGS/stream-poller.log"; die "make load found a mismatch (log in $LOGS/load.log)"; }
cat "$LOGS/load.log"

stage keys-cli "API keys from the command line (make key, make keys, make revoke-key)"
"$ROOT/scripts/test-keys-cli.sh" "$API_PORT" "$DDB_PORT"

stage outage "store outage and restart: DynamoDB Local persisted to disk, stopped (503s), started again (the data back)"
# Nothing after this reads the stream; the in-memory store gives way to a persisted one on
# the same port, which the watch's functions reach as before.
stop_pid "$POLLER_PID"
stop_pid "$DYNAMODB_PID"
rm -rf "$LOGS/dynamodb-data"
start_dynamodb_local "$DDB_PORT" "$LOGS/dynamodb-data" "$LOGS/dynamodb-local-persisted.log"
ensure_table "http://127.0.0.1:$DDB_PORT" links
phase() {
  DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT" API_URL="http://127.0.0.1:$API_PORT" TABLE_NAME=links \
  RESTART_STATE_FILE="$LOGS/restart-state.json" \
    cargo test --locked -q --test outage -- --ignored --exact "$1"
}
phase phase1_before_restart
stop_pid "$DYNAMODB_PID"
phase phase2_store_down_answers_503
start_dynamodb_local "$DDB_PORT" "$LOGS/dynamodb-data" "$LOGS/dynamodb-local-2.log"
ensure_table "http://127.0.0.1:$DDB_PORT" links
phase phase3_after_restart_data_survives_and_service_recovers

# The template checks late: their tools are most of the install, which goes on beside
# the stages above.
stage template-lint "template: sam validate --lint, cfn-lint"
tools_ready
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 sam validate --lint --region us-east-1 -t "$ROOT/template.yaml"
cfn-lint "$ROOT/template.yaml"
stage template-translated "template as CloudFormation reads it: translated by aws-sam-translator, checked, cfn-lint again"
AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/python" "$ROOT/scripts/check-template.py" --self-test "$ROOT/template.yaml" 2>&1 \
  | grep -v "unpublished metrics"; [ "${PIPESTATUS[0]}" = 0 ] || die "the template check missed a known mistake"
AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/python" "$ROOT/scripts/check-template.py" "$ROOT/template.yaml" "$LOGS/template.cfn.json" 2>&1 \
  | grep -v "unpublished metrics"; [ "${PIPESTATUS[0]}" = 0 ] || die "CloudFormation would refuse template.yaml"
cfn-lint "$LOGS/template.cfn.json"
stage deploy-inputs "make deploy: what it passes to sam build and sam deploy"
"$ROOT/scripts/test-deploy.sh"
stage watch-cargo "the watch's cargo: function instances start from the built binaries, built again after an edit (scripts/cargo-prebuilt.sh)"
"$ROOT/scripts/test-cargo-prebuilt.sh"
stage checkov "template: checkov (each remaining finding is skipped in the template with its reason)"
"$TOOLS/checkov/bin/checkov" -f "$ROOT/template.yaml" --compact --quiet --skip-download


# The soak and the hot-link minute check every answer and run last, alone: once the stages
# beside are done (a soak's DELETE timed out, 3 s, while the signal rounds and a clippy
# build ran beside it).
stage side "waiting for the stages beside: the scale tests (scripts/test-scale.sh), make dev's signal rounds (17, see scripts/test-dev-signals.sh) and the benchmark smoke run (make bench on 20 invocations of the debug builds; the figures are not checked here)"
side_ok=0
wait "$SIDE_PID" || side_ok=$?
wait "$SIGNALS_PID" || side_ok=$?
cat "$SIDE_LOG" "$SIGNALS_LOG"
[ "$side_ok" = 0 ] || die "a stage beside failed (logs: $SIDE_LOG, $SIGNALS_LOG)"
stage soak "make soak MINUTES=2: mixed traffic against make dev with a restart, then every count checked"
MINUTES="${TEST_SOAK_MINUTES:-2}" SOAK_DIR="$LOGS/soak" "$ROOT/scripts/soak.sh" >"$LOGS/soak.log" 2>&1 \
  || { tail -60 "$LOGS/soak.log"; die "make soak found misses (log in $LOGS/soak.log)"; }
tail -12 "$LOGS/soak.log"

stage hot "make hot for a minute: one link at 20 times its emulated partition limit (8 clients, 100 visits a second), every visit counted once, no 5xx (the full run is make hot: BENCHMARKS.md)"
# Alone: its load is what it measures. Beside the integration stages it slowed the tests'
# 1-second DynamoDB attempts; beside the soak, both saw store timeouts (503s) and the hot
# link got 3x its limit, not 10x.
HOT_SECONDS=60 HOT_CLIENTS=8 HOT_RATE=100 HOT_WAIT=120 HOT_DDB_PORT=8600 HOT_API_PORT=9600 \
  HOT_OUT="$LOGS/hot.json" HOT_LOGS="$LOGS/hot" "$ROOT/scripts/hot.sh" >"$LOGS/hot.log" 2>&1 \
  || { tail -40 "$LOGS/hot.log"; die "make hot (short) found misses (log in $LOGS/hot.log)"; }
grep -E '"(sent_302|counted_stats|counted_total|counted_ranking|ratio|errors_5xx|shards)"' "$LOGS/hot.json"

end_stage
print_timings
log "all tests passed"
