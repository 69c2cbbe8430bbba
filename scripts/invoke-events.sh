#!/usr/bin/env bash
# Sends every sample event in events/ to a running `cargo lambda watch` with
# `cargo lambda invoke` (the stream event too, to the aggregate function), in an order where
# each one's expectation holds on a fresh or a used table, and checks each response. The
# management and ranking events carry a placeholder key: an admin key is issued in the local
# table first and put in its place.
# Usage: scripts/invoke-events.sh [WATCH_PORT] [DYNAMODB_PORT]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
port="${1:-9000}"
ddb_port="${2:-8000}"
PLACEHOLDER="slk_REPLACE-WITH-A-KEY-FROM-make-key-0000000000"
admin_key="$(DDB_PORT="$ddb_port" TABLE_NAME='' "$ROOT/scripts/keys.sh" create --name invoke-events --role admin 2>/dev/null)"
[ -n "$admin_key" ] || die "could not issue an admin key in the local table"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# function  event  expected statuses  a check of the JSON body and headers (Python expression
# on `b` and `h`)
cases=(
  "create   create.json            201,200  b['code']=='tyZfCy1' and b['url']=='https://github.com/awslabs/aws-lambda-rust-runtime'"
  "create   create-alias.json      201,200  b['code']=='rust-learn'"
  "create   create-base64.json     200      b['code']=='rust-learn' and b['url']=='https://www.rust-lang.org/learn'"
  "redirect redirect.json          302      True"
  "create   create-forward.json    201,200  b['code']=='shop-sale' and b['forward_query'] is True and b['title']=='Winter sale' and b['tags']==['shop','sale']"
  "redirect redirect-forward.json  302      h['location']=='https://shop.example/sale?ref=short&lang=de&utm_source=newsletter#top'"
  "create   create-rules.json      201,200  b['code']=='get-app' and [r['conditions'][0]['value'] for r in b['rules']]==['ios','android']"
  "redirect redirect-rules.json    302      h['location']=='https://apps.apple.com/app/id0000000000'"
  "create   create-password.json   201,409  b.get('password_protected') is True or b['error']['code']=='alias_taken'"
  "redirect redirect-password-form.json 200 h['content-type'].startswith('text/html') and 'location' not in h and '<form method=\"post\">' in b['html']"
  "redirect redirect-password-unlock.json 303 h['location']=='https://example.com/team/plan'"
  "redirect redirect-unknown.json  404      b['error']['code']=='not_found'"
  "stats    stats.json             200      b['total_visits']>=1 and len(b['daily'])>=1 and b['daily'][-1]['visits']>=1 and {'key':'google.com','visits':b['total_visits']} in b['breakdowns']['referrers'] and b['breakdowns']['countries'][0]['key']=='DE'"
  "stats    stats-csv.json         200      b['csv'].startswith('date,dimension,key,visits\\r\\n') and ',total,visits,' in b['csv'] and ',referrers,google.com,' in b['csv']"
  "stats    link-insights.json     200      b['code']=='tyZfCy1' and isinstance(b['insights'], list) and all(set(i)=={'type','message','figures'} for i in b['insights'])"
  "stats    stats-range.json       200      b['code']=='tyZfCy1' and all('2026-01-01'<=d['date']<='2026-12-31' for d in b['daily'])"
  "manage   link-get.json          200      b['code']=='tyZfCy1' and b['owner'] is None and b['total_visits']>=1"
  "manage   link-patch.json        200      b['disabled'] is False and b['max_visits'] is None"
  "manage   links-list.json        200      b['links']==[] and b['next_cursor'] is None"
  "create   links-import.json      200      [r['status'] in (200, 201) for r in b['results']]==[True, True] and b['results'][1]['link']['tags']==['aws','rust']"
  "manage   links-export.json      200      b['csv'].startswith('Long URL,Short code,Title,Tags,Short URL,Created at,Visits\\r\\n') and 'https://doc.rust-lang.org/book/,' in b['csv'] and 'x-next-cursor' not in h"
  "aggregate aggregate-stream.json event    b=={'batchItemFailures':[]}"
  "stats    rankings.json          200      b['period']=='all' and b['limit']==5 and b['date'] is None and len(b['links'])<=5 and all(l['visits']>=1 for l in b['links'])"
  "stats    insights.json          200      b['owner'] is None and isinstance(b['risers'], list) and isinstance(b['fallers'], list) and len(b['links'])<=3"
  "ask      insights-ask.json      200      b['answer'].startswith('[Bedrock stand-in, not a model]') and b['model']=='local.bedrock-standin' and b['facts']['owner'] is None and b['usage']['output_tokens']>0"
  "manage   link-delete.json       204      True"
  "health   health.json            200      b=={'status':'ok'}"
  "manage   keys-me.json           200      b['name']=='invoke-events' and b['role']=='admin' and len(b['id'])==12"
  "pages    console.json           200      '/main.js\"' in b['html'] and \"script-src 'self'\" in h['content-security-policy'] and h['x-content-type-options']=='nosniff'"
)

failed=0
for c in "${cases[@]}"; do
  read -r fn event statuses check <<<"$c"
  sed "s/$PLACEHOLDER/$admin_key/" "$ROOT/events/$event" >"$work/$event"
  out="$(cargo lambda invoke "$fn" -A 127.0.0.1 -P "$port" --data-file "$work/$event" --output-format json 2>&1)" || true
  if python3 - "$statuses" "$check" "$out" <<'PY'
import json, sys
statuses, check, out = sys.argv[1].split(','), sys.argv[2], sys.argv[3]
resp = json.loads(out)
if statuses == ["event"]:
    # Not an HTTP function: the check is on its whole response.
    if not eval(check, {}, {"b": resp}):
        raise SystemExit(f"response check failed: {check}: {out}")
    raise SystemExit(0)
status = str(resp.get("statusCode"))
body = resp.get("body") or ""
headers = resp.get("headers") or {}
ct = headers.get("content-type", "")
b = ({"html": body} if ct.startswith("text/html") else {"csv": body} if ct.startswith("text/csv")
     else json.loads(body) if body else {})
if resp.get("isBase64Encoded"):
    raise SystemExit("unexpected base64 body")
if status not in statuses:
    raise SystemExit(f"status {status}, expected {statuses}: {body}")
if status in ("302", "303") and not resp["headers"].get("location", "").startswith("https://"):
    raise SystemExit(f"302 without a Location: {resp['headers']}")
if not eval(check, {}, {"b": b, "h": headers}):
    raise SystemExit(f"body check failed: {check}: {body}")
PY
  then echo "ok   $fn $event"; else echo "FAIL $fn $event: $out"; failed=$((failed + 1)); fi
done
echo "events: $(( ${#cases[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
