#!/usr/bin/env bash
# What `make deploy` passes to each command: the same parameter overrides to sam build and
# sam deploy (arm64 chosen in the guided run reaches the build), names the template does
# not have and values outside AllowedValues refused before anything runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { if eval "$2"; then echo "ok   $1"; passed=$((passed + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi; }
# A guided run answering: stack name, region, then arm64 and defaults for everything else.
answers="shortener-test\neu-west-1\narm64\n$(printf '\\n%.0s' $(seq 60))"
printf "$answers" | DEPLOY_ENV="$work/deploy.env" python3 "$ROOT/scripts/deploy_params.py" guided "$ROOT/template.yaml" "$work/deploy.env" >/dev/null
out="$(DEPLOY_ENV="$work/deploy.env" DEPLOY_DRY_RUN=1 "$ROOT/scripts/deploy.sh")"
build="$(sed -n 1p <<<"$out")" deploy="$(sed -n 2p <<<"$out")"
check "the guided answers are saved in deploy.env" 'grep -qx "Architecture=arm64" "$work/deploy.env" && grep -qx "REGION=eu-west-1" "$work/deploy.env"'
check "sam build gets Architecture=arm64" 'grep -q "^sam build .*--parameter-overrides .*Architecture=arm64" <<<"$build"'
check "sam deploy gets the same overrides as sam build" '[ "${build#*--parameter-overrides }" = "${deploy#*--parameter-overrides }" ]'
check "sam deploy gets the stack and region" 'grep -q -- "--stack-name shortener-test --region eu-west-1" <<<"$deploy"'
echo "Bogus=1" >>"$work/deploy.env"
check "a name the template does not have is refused" '! DEPLOY_ENV="$work/deploy.env" DEPLOY_DRY_RUN=1 "$ROOT/scripts/deploy.sh" >/dev/null 2>&1'
printf 'Architecture=sparc\n' >"$work/deploy.env"
check "a value outside AllowedValues is refused" '! DEPLOY_ENV="$work/deploy.env" DEPLOY_DRY_RUN=1 "$ROOT/scripts/deploy.sh" >/dev/null 2>&1'
echo "make deploy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
