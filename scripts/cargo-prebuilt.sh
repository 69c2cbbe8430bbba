#!/usr/bin/env bash
# The `cargo` that cargo lambda watch calls (make dev, make test, make hot, make soak:
# scripts/lib.sh, start_watch). The watch starts every function
# instance with `cargo run --bin <fn>`, and each such cargo resolved the workspace, checked
# some 450 units' fingerprints and waited on cargo's locks ("Blocking waiting for file lock
# on package cache / artifact directory", 100 to 700 lines a make test) before the function
# started. Here `run --bin <fn>` execs target/debug/<fn> itself, with the environment the
# watch gave it, when no source of the functions changed since it was built (build_debug,
# which make dev and make test run before the watch starts, leaves a stamp; so does this
# script). After an edit it builds that binary first, as cargo run did (hot reload). The
# process is the one the watch supervises either way (its teardown ends it). Every other
# command (cargo metadata) goes to the real cargo.
set -euo pipefail
real="${REAL_CARGO:?REAL_CARGO: the cargo to hand other commands to}"
root="$(cd "$(dirname "$0")/.." && pwd)"
[ "${1:-}" = run ] || exec "$real" "$@"
bin="" prev="" after=0 opts=() args=()
for a in "${@:2}"; do
  if [ "$after" = 1 ]; then args+=("$a"); continue; fi
  case "$a" in
    --) after=1; continue ;;
    --bin=*) bin="${a#--bin=}" ;;
    *) [ "$prev" = --bin ] && bin="$a" ;;
  esac
  opts+=("$a") prev="$a"
done
[ -n "$bin" ] || exec "$real" "$@"
debug="${CARGO_TARGET_DIR:-$root/target}/debug"
exe="$debug/$bin" stamps="$debug/.prebuilt"
# The newer of build_debug's stamp (every binary) and this binary's own.
stamp="$stamps/all"
[ "$stamps/$bin" -nt "$stamp" ] && stamp="$stamps/$bin"
# What the functions are built from: the manifests, common/, functions/, and what they
# include (the console's page and assets, openapi.json).
fresh() {
  [ -x "$exe" ] && [ -e "$stamp" ] && [ -z "$(cd "$root" && find Cargo.toml Cargo.lock common \
    functions console openapi.json -type f -newer "$stamp" -print -quit)" ]
}
if ! fresh; then
  # Stamped with the time the build started: a file saved during it is built next time.
  mkdir -p "$stamps"
  tmp="$(mktemp "$stamps/.$bin.XXXXXX")"
  "$real" build "${opts[@]}" || { rm -f "$tmp"; exit 101; }
  mv -f "$tmp" "$stamps/$bin"
fi
exec "$exe" "${args[@]}"
