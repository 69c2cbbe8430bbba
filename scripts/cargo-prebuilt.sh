#!/usr/bin/env bash
# The `cargo` that cargo lambda watch calls when started with WATCH_PREBUILT=1 (make test,
# make hot: scripts/lib.sh, start_watch). The watch starts every function instance with
# `cargo run --bin <fn>`, and each such cargo resolved the workspace, checked some 450
# units' fingerprints and waited on cargo's locks ("Blocking waiting for file lock on
# package cache / artifact directory", 100 to 700 lines a run) before the function
# started: here, where everything was built before the watch started and --ignore-changes
# is set, `run --bin <fn>` execs target/debug/<fn> itself, with the environment the watch
# gave it. The process is the one the watch supervises, as before (its teardown kills it).
# Everything else (cargo metadata, a binary not built) goes to the real cargo.
set -euo pipefail
real="${REAL_CARGO:?REAL_CARGO: the cargo to hand other commands to}"
if [ "${1:-}" = run ]; then
  bin="" prev="" after=0 args=()
  for a in "${@:2}"; do
    if [ "$after" = 1 ]; then args+=("$a"); continue; fi
    case "$a" in
      --) after=1 ;;
      --bin=*) bin="${a#--bin=}" ;;
      *) [ "$prev" = --bin ] && bin="$a" ;;
    esac
    prev="$a"
  done
  exe="${CARGO_TARGET_DIR:-target}/debug/$bin"
  if [ -n "$bin" ] && [ -x "$exe" ]; then
    exec "$exe" "${args[@]}"
  fi
fi
exec "$real" "$@"
