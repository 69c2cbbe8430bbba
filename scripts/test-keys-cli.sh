#!/usr/bin/env bash
# The key commands of the README against the running local stack: `make key` issues a key
# that works at once, `make keys` lists it (never the key itself), `make revoke-key` makes
# the API refuse it, and bad arguments fail with a message.
# Usage: scripts/test-keys-cli.sh API_PORT DYNAMODB_PORT
set -euo pipefail
source "$(dirname "$0")/lib.sh"
api="http://127.0.0.1:$1"
export DDB_PORT="$2"
unset TABLE_NAME
passed=0 failed=0
check() { if eval "$2"; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi; }
mk() { make -C "$ROOT" --no-print-directory -s "$@"; }

key="$(mk key NAME="cli test" ROLE=user)"
check "make key prints one slk_ key" '[[ "$key" =~ ^slk_[A-Za-z0-9_-]{43}$ ]]'
status="$(curl -s -o /tmp/keys-cli-list.json -w '%{http_code}' -H "authorization: Bearer $key" "$api/links")"
check "the new key lists its links (200)" '[ "$status" = 200 ]'
id="$(printf '%s' "$key" | python3 -c 'import sys,hashlib,base64; print(base64.urlsafe_b64encode(hashlib.sha256(sys.stdin.read().encode()).digest()).decode().rstrip("=")[:12])')"
listing="$(mk keys)"
check "make keys shows its id, role and name" 'grep -E "^$id +user .* cli test$" <<<"$listing" >/dev/null'
check "make keys never shows a key" '! grep -q slk_ <<<"$listing"'
check "make revoke-key revokes it" 'mk revoke-key ID="$id" >/dev/null'
check "make keys shows it revoked" 'mk keys | grep -E "^$id +user +[0-9TZ:.-]+ +[0-9TZ:.-]+Z +cli test$" >/dev/null'
refused=no
for _ in $(seq 40); do
  s="$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $key" "$api/links")"
  [ "$s" = 401 ] && { refused=yes; break; }
  sleep 0.25
done
check "the API refuses the revoked key (401)" '[ "$refused" = yes ]'
check "make key ROLE=root fails" '! mk key NAME=x ROLE=root >/dev/null 2>&1'
check "make key without a name fails" '! mk key ROLE=user >/dev/null 2>&1'
check "make revoke-key of an unknown id fails" '! mk revoke-key ID=AAAAAAAAAAAA >/dev/null 2>&1'
echo "keys cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
