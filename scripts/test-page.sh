#!/usr/bin/env bash
# The stats page in a real browser: a link gets a known mix of visits, headless Chromium
# (Debian's package) loads its page, the rendered DOM must show the totals, the chart and
# the QR code, and a screenshot is kept for review.
# Usage: scripts/test-page.sh API_PORT OUT_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
api="http://127.0.0.1:$1" out="$2"
mkdir -p "$out"
ensure_chromium

UA='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
IPHONE='Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'
alias="page-$(date +%s%N)"
curl -sf -o /dev/null -X POST "$api/links" -H 'content-type: application/json' \
  -d "{\"url\":\"https://www.rust-lang.org/learn\",\"alias\":\"$alias\"}"
for i in $(seq 9); do
  curl -sf -o /dev/null -A "$UA" -H "referer: https://news.ycombinator.com/" -H 'cloudfront-viewer-country: DE' -H "x-origin-verify: $LOCAL_EDGE_SECRET" "$api/$alias?utm_source=hn"
done
for i in $(seq 4); do curl -sf -o /dev/null -A "$IPHONE" -H 'cloudfront-viewer-country: US' -H "x-origin-verify: $LOCAL_EDGE_SECRET" "$api/$alias"; done
for i in $(seq 3); do curl -sf -o /dev/null "$api/$alias"; done   # curl: bot visits

chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$(mktemp -d)" --window-size=1100,1300)
"${chrome[@]}" --dump-dom "$api/links/$alias/page" >"$out/stats-page.html" 2>"$out/chromium.log"
"${chrome[@]}" --screenshot="$out/stats-page.png" "$api/links/$alias/page" >>"$out/chromium.log" 2>&1

passed=0 failed=0
check() { if eval "$2"; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi; }
dom="$(cat "$out/stats-page.html")"
check "the page loaded with its title" 'grep -q "<title>Stats of $alias</title>" <<<"$dom"'
check "13 visits and 3 bot visits" 'grep -q "id=\"total-visits\">13<" <<<"$dom" && grep -q "id=\"bot-visits\">3<" <<<"$dom"'
today="$(date -u +%Y-%m-%d)"
check "a chart bar with the counts of today" 'grep -q "$today: 13 visits, 3 bot visits" <<<"$dom"'
check "the breakdowns" 'grep -q "news.ycombinator.com" <<<"$dom" && grep -q ">DE<" <<<"$dom" && grep -q ">smartphone<" <<<"$dom"'
check "chart and QR code (two inline SVGs)" '[ "$(grep -o "<svg" <<<"$dom" | wc -l)" -eq 2 ]'
# The one <link> allowed is the empty icon (no /favicon.ico request the CSP would refuse).
check "no script and no external asset" '! sed "s|<link rel=\"icon\" href=\"data:,\">||g" <<<"$dom" | grep -qiE "<script|src=\"https?:|<link "'
check "a screenshot of it ($out/stats-page.png)" '[ "$(stat -c %s "$out/stats-page.png" 2>/dev/null || echo 0)" -gt 10000 ]'
qr="$(curl -s -D "$out/qr.headers" "$api/links/$alias/qr.svg?size=300")"
check "the QR code is an SVG, cacheable" 'grep -q "<svg" <<<"$qr" && grep -qi "cache-control: public" "$out/qr.headers" && grep -qi "content-type: image/svg+xml" "$out/qr.headers"'
echo "stats page: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
