#!/usr/bin/env bash
# CORS in a real browser: a page served from another origin calls the API with fetch (a
# POST with a key and JSON, so the browser sends a preflight first). From an origin in
# CORS_ALLOW_ORIGINS the call succeeds and the page reads the answer and its Location
# header; from any other origin the browser refuses it. The API under test must have been
# started with CORS_ALLOW_ORIGINS=http://127.0.0.1:ALLOWED_PORT.
# Usage: scripts/test-cors.sh API_PORT DYNAMODB_PORT ALLOWED_PORT OTHER_PORT OUT_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
api="http://127.0.0.1:$1" ddb_port="$2" allowed="$3" other="$4" out="$5"
mkdir -p "$out/site"
ensure_chromium
key="$(DDB_PORT="$ddb_port" TABLE_NAME='' "$ROOT/scripts/keys.sh" create --name cors --role user 2>/dev/null)"
[ -n "$key" ] || die "could not issue a key"
cat >"$out/site/index.html" <<HTML
<!doctype html><html><body><pre id="out">pending</pre><script>
fetch("$api/links", {method: "POST", headers: {"content-type": "application/json",
  "authorization": "Bearer $key"}, body: JSON.stringify({url: "https://example.com/cors/" + location.port})})
  .then(r => r.json().then(b => { document.getElementById("out").textContent =
    "answered " + r.status + " code=" + b.code + " location=" + r.headers.get("location"); }))
  .catch(e => { document.getElementById("out").textContent = "refused " + e.name; });
</script></body></html>
HTML
servers=()
trap 'kill "${servers[@]}" 2>/dev/null || true' EXIT
for port in "$allowed" "$other"; do
  (cd "$out/site" && exec python3 -m http.server --bind 127.0.0.1 "$port" >"$out/server-$port.log" 2>&1) &
  servers+=("$!")
done
wait_http "http://127.0.0.1:$allowed/" 20 && wait_http "http://127.0.0.1:$other/" 20 || die "page servers did not start"
chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --virtual-time-budget=10000)
page() { "${chrome[@]}" --user-data-dir="$(mktemp -d)" --dump-dom "http://127.0.0.1:$1/" 2>>"$out/chromium.log"; }
passed=0 failed=0
check() { if eval "$2"; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi; }
ok_dom="$(page "$allowed")"
check "an allowed origin reads the 201 and its Location ($(grep -o 'answered[^<]*\|refused[^<]*\|pending' <<<"$ok_dom" | head -1))" \
  'grep -qE "answered 201 code=[A-Za-z0-9_-]+ location=http" <<<"$ok_dom"'
other_dom="$(page "$other")"
check "another origin is refused by the browser ($(grep -o 'answered[^<]*\|refused[^<]*\|pending' <<<"$other_dom" | head -1))" \
  'grep -q "refused TypeError" <<<"$other_dom"'
pre="$(curl -s -o /dev/null -D - -X OPTIONS "$api/links/abc" -H "origin: http://127.0.0.1:$allowed" \
  -H 'access-control-request-method: PATCH' -H 'access-control-request-headers: authorization')"
check "the preflight of PATCH /links/{code} is 204 with the allowed methods" \
  'grep -q "^HTTP/1.1 204" <<<"$pre" && grep -qi "access-control-allow-methods: .*PATCH" <<<"$pre"'
echo "CORS in the browser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
