#!/usr/bin/env bash
# The console (/admin) in a real browser: its logic's unit tests (node --test), then every
# scenario of integration/browser/console_test.py in Debian's Chromium through Playwright,
# with axe-core on every view; screenshots in OUT_DIR. BENCH=1: the console benchmark instead
# (asset size, time to the first render of a list of 1,000 links).
# Usage: scripts/test-console.sh API_PORT DYNAMODB_PORT OUT_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
api="http://127.0.0.1:$1" ddb_port="$2" out="$3"
mkdir -p "$out"
ensure_playwright
ensure_axe
[ -x "$CARGO_TARGET_DIR/debug/keys" ] || build_debug
if [ -z "${BENCH:-}" ]; then
  log "the console's logic: node --test console/test/"
  node --test "$ROOT/console/test/"
fi
AWS_ENDPOINT_URL="http://127.0.0.1:$ddb_port" TABLE_NAME=links AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
  "$TOOLS/browser/bin/python" "$ROOT/integration/browser/console_test.py" --api "$api" \
    --keys "$CARGO_TARGET_DIR/debug/keys" --axe "$TOOLS/axe/node_modules/axe-core/axe.min.js" \
    --out "$out" ${BENCH:+--bench} ${ONLY:+--only "$ONLY"}
