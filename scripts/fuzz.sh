#!/usr/bin/env bash
# `make fuzz`: runs each cargo-fuzz target (libFuzzer, nightly toolchain) for FUZZ_SECONDS
# (default 60) and fails on the first crash; crashes are kept in fuzz/artifacts/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECS="${FUZZ_SECONDS:-60}"
CARGO_FUZZ_VERSION="0.13.2"

rustup toolchain list 2>/dev/null | grep -q '^nightly' \
  || die "fuzzing needs the nightly toolchain: rustup toolchain install nightly"
export PATH="$TOOLS/cargo/bin:$PATH"
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/cargo"
  cargo install --locked --quiet --root "$TOOLS/cargo" "cargo-fuzz@$CARGO_FUZZ_VERSION"
fi

cd "$ROOT/fuzz"
# The fuzz crate is its own workspace with its own target dir.
unset CARGO_TARGET_DIR
for target in url_normalize alias_parse api_event visit_headers; do
  log "fuzzing $target for ${SECS}s"
  mkdir -p "corpus/$target"
  seeds=(); [ -d "seeds/$target" ] && seeds=("seeds/$target")
  status=0
  cargo +nightly fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$SECS" -print_final_stats=1 >"fuzz-$target.log" 2>&1 || status=$?
  grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|Test unit written|thread .* panicked)" "fuzz-$target.log" || true
  [ "$status" -eq 0 ] || { tail -40 "fuzz-$target.log"; die "$target failed: see fuzz/fuzz-$target.log and fuzz/artifacts/$target"; }
done
log "fuzzing found no crash in ${SECS}s per target"
