#!/usr/bin/env bash
# The watch's cargo (scripts/cargo-prebuilt.sh) in a scratch tree, with a stand-in for the
# real cargo that logs its arguments: a fresh binary runs without cargo, with the watch's
# environment and the arguments after `--`; an edit to a source (and no stamp at all) builds
# that binary first, with the options cargo run had; a failed build runs nothing; every
# other command goes to cargo unchanged.
set -euo pipefail
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/scripts" "$tmp/common" "$tmp/functions" "$tmp/console" "$tmp/target/debug"
cp "$(dirname "$0")/cargo-prebuilt.sh" "$tmp/scripts/"
touch "$tmp/Cargo.toml" "$tmp/Cargo.lock" "$tmp/openapi.json" "$tmp/common/lib.rs"
cat >"$tmp/cargo" <<'FAKE'
#!/usr/bin/env bash
echo "cargo $*" >>"$LOG"
[ "${FAIL_BUILD:-0}" = 0 ] || exit 1
if [ "$1" = build ]; then
  printf '#!/usr/bin/env bash\necho "ran fn $* with $AWS_LAMBDA_FUNCTION_NAME"\n' >"$CARGO_TARGET_DIR/debug/fn"
  chmod +x "$CARGO_TARGET_DIR/debug/fn"
fi
FAKE
chmod +x "$tmp/cargo"
export REAL_CARGO="$tmp/cargo" CARGO_TARGET_DIR="$tmp/target" LOG="$tmp/log" AWS_LAMBDA_FUNCTION_NAME=fn
wrapper="$tmp/scripts/cargo-prebuilt.sh"
failed=0
check() {
  local name="$1" want_out="$2" want_log="$3" out log
  out="$(cd "$tmp" && "${@:4}" 2>&1)" || true
  log="$(cat "$LOG" 2>/dev/null || true)"; rm -f "$LOG"
  if [ "$out" = "$want_out" ] && [ "$log" = "$want_log" ]; then echo "ok   $name"
  else echo "FAIL $name: output [$out] (want [$want_out]), cargo [$log] (want [$want_log])"; failed=1; fi
}
run=("$wrapper" run --color auto --manifest-path Cargo.toml --bin fn -- --flag)
check "no stamp: cargo build with cargo run's options, then the binary" \
  "ran fn --flag with fn" "cargo build --color auto --manifest-path Cargo.toml --bin fn" "${run[@]}"
check "fresh: the binary alone, no cargo" "ran fn --flag with fn" "" "${run[@]}"
sleep 1.1; touch "$tmp/common/lib.rs"
check "a source edited: built again first" \
  "ran fn --flag with fn" "cargo build --color auto --manifest-path Cargo.toml --bin fn" "${run[@]}"
check "fresh again after that build" "ran fn --flag with fn" "" "${run[@]}"
# build_debug's stamp for every binary (scripts/lib.sh), newer than an edit.
sleep 1.1; touch "$tmp/console/page.html"; sleep 1.1; touch "$tmp/target/debug/.prebuilt/all"
check "build_debug's stamp newer than the edit: no cargo" "ran fn --flag with fn" "" "${run[@]}"
sleep 1.1; touch "$tmp/openapi.json"
check "a failed build runs nothing" "" "cargo build --color auto --manifest-path Cargo.toml --bin fn" \
  env FAIL_BUILD=1 "${run[@]}"
check "other commands go to cargo unchanged" "" "cargo metadata --format-version 1" \
  "$wrapper" metadata --format-version 1
check "run without --bin goes to cargo unchanged" "" "cargo run --release" "$wrapper" run --release
[ "$failed" = 0 ] && echo "cargo-prebuilt: all passed"
exit "$failed"
