#!/usr/bin/env bash
# `make bench-instructions`: instructions per warm invocation of each function and of the
# Python reference, counted by valgrind's callgrind. Unlike CPU time, the count does not
# depend on what else the machine is doing, so it shows what a change to a hot path did.
# Each is run twice under callgrind (LOW and HIGH warm invocations, same start-up); the
# difference of the two totals divided by HIGH - LOW is the cost of one warm invocation.
# BENCH_ONLY ("redirect crates-floor") counts only those (a before/after of one hot path).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DDB_PORT="${BENCH_DDB_PORT:-8200}"
OUT="$CARGO_TARGET_DIR/bench"
REPORT="${BENCH_INSTRUCTIONS_REPORT:-$OUT/instructions.json}"

command -v valgrind >/dev/null || die "valgrind is needed (Debian package valgrind)"
trap stop_all EXIT
trap 'exit 130' INT TERM

prepare_bench "$OUT" "$DDB_PORT"

# total NAME INVOCATIONS: instructions of the whole process run.
total() {
  local name="$1" n="$2" cg="$OUT/callgrind.$1.$2"
  rm -f "$cg"
  run_bench "$OUT" "$DDB_PORT" --invocations "$n" --out "$OUT/callgrind-run.json" \
    --only "$name" --wrap "valgrind --tool=callgrind --callgrind-out-file=$cg" >/dev/null
  awk '/^totals:/ {print $2}' "$cg"
}

echo "| function | instructions per warm invocation |" > "$OUT/instructions.md"
echo "| --- | --- |" >> "$OUT/instructions.md"
json="{"
for name in ${BENCH_ONLY:-create redirect stats python floor crates-floor}; do
  if [ "$name" = python ]; then low=20 high=120; else low=100 high=600; fi
  log "callgrind: $name ($low and $high warm invocations)"
  a="$(total "$name" "$low")"
  b="$(total "$name" "$high")"
  per=$(( (b - a) / (high - low) ))
  echo "| $name | $per |" >> "$OUT/instructions.md"
  json="$json\"$name\": $per, "
  declare "per_${name//-/_}=$per"
done
if [ -n "${per_python:-}" ] && [ -n "${per_redirect:-}" ]; then
  ratio="$(python3 -c "print(round($per_python / $per_redirect, 2))")"
  json="$json\"python_over_redirect\": $ratio}"
  echo "python / rust (redirect): ${ratio}x"
else
  json="${json%, }}"
fi
echo "$json" > "$REPORT"
cat "$OUT/instructions.md"
echo "report: $REPORT"
