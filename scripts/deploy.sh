#!/usr/bin/env bash
# `make deploy` (first time: `make deploy GUIDED=1`): builds and deploys the stack with the
# parameters of deploy.env, passed to both `sam build` and `sam deploy`: `sam deploy
# --guided` alone saves its answers for `sam deploy` only, so `sam build` would build the
# default architecture (x86_64 binaries on arm64 functions fail at Init).
# GUIDED=1 asks for each parameter of template.yaml (its description and default shown,
# Enter keeps the current value) and writes deploy.env first.
# DEPLOY_DRY_RUN=1 prints the two commands instead of running them (scripts/test-deploy.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ENV_FILE="${DEPLOY_ENV:-$ROOT/deploy.env}"

if [ "${GUIDED:-}" = 1 ]; then
  ensure_template_linters
  [ -f "$ENV_FILE" ] || cp "$ROOT/deploy.env.example" "$ENV_FILE"
  "$VENV/bin/python" "$ROOT/scripts/deploy_params.py" guided "$ROOT/template.yaml" "$ENV_FILE"
fi
[ -f "$ENV_FILE" ] || die "no $ENV_FILE: copy deploy.env.example to deploy.env, or run make deploy GUIDED=1"
params="$(python3 "$ROOT/scripts/deploy_params.py" overrides "$ROOT/template.yaml" "$ENV_FILE")" \
  || die "$ENV_FILE does not fit template.yaml"
mapfile -t lines <<<"$params"
stack="${lines[0]}" region="${lines[1]}" overrides=("${lines[@]:2}")
build=(sam build --template-file "$ROOT/template.yaml" --parameter-overrides "${overrides[@]}")
deploy=(sam deploy --template-file "$ROOT/.aws-sam/build/template.yaml" --stack-name "$stack"
        --region "$region" --parameter-overrides "${overrides[@]}")
if [ "${DEPLOY_DRY_RUN:-}" = 1 ]; then
  printf '%q ' "${build[@]}"; echo
  printf '%q ' "${deploy[@]}"; echo
  exit 0
fi
ensure_template_linters
ensure_cargo_lambda
cd "$ROOT"
SAM_CLI_TELEMETRY=0 "${build[@]}"
SAM_CLI_TELEMETRY=0 "${deploy[@]}"
