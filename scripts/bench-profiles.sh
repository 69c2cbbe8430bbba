#!/usr/bin/env bash
# `make bench-profiles`: the redirect and the crates floor (the same crates, a trivial
# handler) built with each release profile of PROFILES ("opt-level:lto:codegen-units ...",
# default "s:fat:1 3:fat:1 z:fat:1 3:thin:16"; the first is Cargo.toml's; a fourth field
# names one of the per-crate opt-level mixes below, e.g. "s:fat:1:hot-3"), each in a
# target directory of its own, and measured the same way: bootstrap.zip bytes, Init and
# peak RSS under the bench's fake Runtime API (BENCH_INVOCATIONS warm invocations, 1000),
# and instructions per warm invocation by callgrind (the difference of 100 and 400 warm
# invocations, as make bench-instructions counts them). The table: target/bench/profiles.md
# (JSON beside it); BENCHMARKS.md keeps the runs. The redirect is built as sam build builds
# it (cargo lambda build in functions/redirect); the floor with cargo build (no zip).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DDB_PORT="${BENCH_PROFILES_DDB_PORT:-8250}"
OUT="$CARGO_TARGET_DIR/bench/profiles"
PROFILES="${PROFILES:-s:fat:1 3:fat:1 z:fat:1 3:thin:16}"
N="${BENCH_INVOCATIONS:-1000}"
LOW=100 HIGH=400
command -v valgrind >/dev/null || die "valgrind is needed (Debian package valgrind)"
trap stop_all EXIT
trap 'exit 130' INT TERM

ensure_dynamodb_local
ensure_cargo_lambda
build_debug
mkdir -p "$OUT"
start_dynamodb_local "$DDB_PORT" inMemory "$OUT/dynamodb-local.log"
ensure_table "http://127.0.0.1:$DDB_PORT" bench
cargo build --release --locked -p bench --bin bench
driver="$CARGO_TARGET_DIR/release/bench"

# drive DIR FLOOR OUT ARGS...: the bench driver on the redirect in DIR/lambda and FLOOR.
drive() {
  local dir="$1" floor="$2" out="$3"
  shift 3
  AWS_ENDPOINT_URL="http://127.0.0.1:$DDB_PORT" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
    "$driver" --endpoint "http://127.0.0.1:$DDB_PORT" --table bench --lambda-dir "$dir/lambda" \
      --crates-floor "$floor" --out "$out" "$@" >/dev/null
}
# instructions DIR FLOOR NAME: per warm invocation of NAME (redirect or crates-floor).
instructions() {
  local dir="$1" floor="$2" name="$3" n cg a b
  for n in "$LOW" "$HIGH"; do
    cg="$dir/callgrind.$name.$n"
    rm -f "$cg"
    drive "$dir" "$floor" "$dir/callgrind-run.json" --invocations "$n" --only "$name" \
      --wrap "valgrind --tool=callgrind --callgrind-out-file=$cg"
  done
  a="$(awk '/^totals:/ {print $2}' "$dir/callgrind.$name.$LOW")"
  b="$(awk '/^totals:/ {print $2}' "$dir/callgrind.$name.$HIGH")"
  echo $(( (b - a) / (HIGH - LOW) ))
}

# Per-crate opt-levels on top of a profile (Cargo's profile overrides, passed as --config):
# hot-3: the crates a warm redirect runs through (its request and answer, the SDK's
# UpdateItem, SigV4, the log line; the allocator, argon2 for a password) at 3, the rest at
# the profile's level; cold-s: the crates a warm redirect does not run (regular expressions
# and the bot list, built once; woothee, once a User-Agent; IDNA; TLS but its ring
# assembly; HTTP/2; CSV, QR, dates) at s.
declare -A MIXES=(
  [hot-3]="3:common redirect sha2 hmac digest aws-sigv4 serde serde_core serde_json aws-smithy-json aws-smithy-runtime aws-smithy-runtime-api aws-smithy-types aws-smithy-http aws-smithy-http-client aws-smithy-async aws-runtime aws-sdk-dynamodb hyper hyper-util http httparse bytes tokio lambda_runtime lambda_http lambda_runtime_api_client aws_lambda_events tracing tracing-core tracing-subscriber tracing-serde libmimalloc-sys argon2 blake2"
  [cold-s]="s:regex regex-automata regex-syntax regex-lite aho-corasick woothee idna idna_adapter icu_collections icu_locale_core icu_normalizer icu_normalizer_data icu_properties icu_properties_data icu_provider rustls rustls-webpki h2 csv csv-core qrcode chrono time"
)
# mix_flags MIX: the --config arguments of a mix (none when MIX is empty).
mix_flags() {
  [ -n "$1" ] || return 0
  local level="${MIXES[$1]%%:*}" crate
  [ "$level" = 3 ] || level="\"$level\""
  for crate in ${MIXES[$1]#*:}; do
    printf -- '--config\nprofile.release.package.%s.opt-level=%s\n' "$crate" "$level"
  done
}

rows=()
for p in $PROFILES; do
  IFS=: read -r opt lto cgu mix <<<"$p"
  name="opt-$opt.lto-$lto.cgu-$cgu${mix:+.$mix}" dir="$OUT/$name"
  target="$CARGO_TARGET_DIR/profiles/$name"
  [ -z "${mix:-}" ] || [ -n "${MIXES[$mix]:-}" ] || die "no opt-level mix named $mix (${!MIXES[*]})"
  mapfile -t mixed < <(mix_flags "${mix:-}")
  # Cargo.toml's own profile: the release builds make build and make bench made already.
  [ "$p" != "s:fat:1" ] || target="$CARGO_TARGET_DIR"
  rm -rf "$dir" && mkdir -p "$dir/lambda/redirect"
  log "$name: building the redirect and the crates floor"
  started=$SECONDS
  export CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt" CARGO_PROFILE_RELEASE_LTO="$lto" \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS="$cgu"
  (cd "$ROOT/functions/redirect" && CARGO_TARGET_DIR="$target" \
    cargo lambda build --release --locked --output-format zip --bin redirect "${mixed[@]}")
  CARGO_TARGET_DIR="$target" cargo build --release --locked -p bench --bin crates_floor "${mixed[@]}"
  unset CARGO_PROFILE_RELEASE_OPT_LEVEL CARGO_PROFILE_RELEASE_LTO CARGO_PROFILE_RELEASE_CODEGEN_UNITS
  build_s=$((SECONDS - started))
  cp "$target/lambda/redirect/bootstrap.zip" "$dir/lambda/redirect/"
  python3 -m zipfile -e "$dir/lambda/redirect/bootstrap.zip" "$dir/lambda/redirect/"
  chmod +x "$dir/lambda/redirect/bootstrap"
  floor="$target/release/crates_floor"
  log "$name: $N warm invocations of each, then callgrind"
  drive "$dir" "$floor" "$dir/run.json" --invocations "$N" --only redirect,crates-floor
  ir="$(instructions "$dir" "$floor" redirect)"
  ir_floor="$(instructions "$dir" "$floor" crates-floor)"
  rows+=("$(python3 - "$p" "$dir" "$ir" "$ir_floor" "$build_s" <<'EOF'
import json, os, sys
profile, d, ir, ir_floor, build_s = sys.argv[1:]
run = json.load(open(os.path.join(d, "run.json")))
r, f = run["functions"]["redirect"], run["crates_floor_redirect"]
print(json.dumps({
    "profile": profile,
    "zip_bytes": os.path.getsize(os.path.join(d, "lambda/redirect/bootstrap.zip")),
    "bootstrap_bytes": os.path.getsize(os.path.join(d, "lambda/redirect/bootstrap")),
    "init_ms": round(r["init_ms"], 1), "floor_init_ms": round(f["init_ms"], 1),
    "peak_rss_mb": round(r["peak_rss_mb"], 2), "floor_peak_rss_mb": round(f["peak_rss_mb"], 2),
    "instructions": int(ir), "floor_instructions": int(ir_floor),
    "warm_p50_ms": round(r["warm_p50_ms"], 3), "build_s": int(build_s),
}))
EOF
)")
  echo "${rows[-1]}"
done
printf '%s\n' "${rows[@]}" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
json.dump(rows, open(sys.argv[1], "w"), indent=1)
out = ["| opt-level:lto:cgu | zip (bytes) | Init ms (floor) | Init / floor | peak RSS MB (floor) | instructions / warm redirect (floor) | / floor | warm p50 ms | build s |",
       "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for r in rows:
    out.append("| {profile} | {zip_bytes:,} | {init_ms} ({floor_init_ms}) | {init_ratio:.2f} | {peak_rss_mb} ({floor_peak_rss_mb}) | {instructions:,} ({floor_instructions:,}) | {ir_ratio:.3f} | {warm_p50_ms} | {build_s} |".format(
        init_ratio=r["init_ms"] / r["floor_init_ms"], ir_ratio=r["instructions"] / r["floor_instructions"], **r))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
' "$OUT/profiles.json" "$CARGO_TARGET_DIR/bench/profiles.md"
