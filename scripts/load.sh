#!/usr/bin/env bash
# `make load N=... C=... [URL=...] [KEY=...]`: the load generator (loadgen/src/main.rs),
# release build, against the local stack of `make dev` by default. The rankings it checks
# are an admin's: against the local stack an admin key is issued for the run (make key);
# against a deployed API pass one (KEY=slk_..., or LOAD_API_KEY).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
URL="${URL:-http://127.0.0.1:${API_PORT:-9000}}"
key="${KEY:-${LOAD_API_KEY:-}}"
cd "$ROOT"
if [ -z "$key" ]; then
  case "$URL" in
    http://127.0.0.1:*|http://localhost:*)
      log "issuing an admin key for this run in the local table"
      key="$(DDB_PORT="${DDB_PORT:-8000}" TABLE_NAME='' "$ROOT/scripts/keys.sh" create --name load --role admin 2>/dev/null)" \
        || die "could not issue a key: is make dev running?" ;;
    *) die "the rankings need an admin key: make load URL=$URL KEY=slk_..." ;;
  esac
fi
profile="${LOAD_PROFILE:-release}"
# --bin, not -p: the same features as every other build (scripts/lib.sh, build_debug)
cargo build --quiet --locked --profile "$profile" --bin load
dir="$profile"; [ "$profile" = dev ] && dir=debug
LOAD_API_KEY="$key" exec "$CARGO_TARGET_DIR/$dir/load" --url "$URL" -n "${N:-1000}" -c "${C:-16}" --wait "${WAIT:-60}"
