#!/usr/bin/env bash
# `make key`, `make keys`, `make revoke-key`: API keys in the local table by default (the
# DynamoDB Local of `make dev`), or, with TABLE_NAME set, in that table with the usual AWS
# environment (AWS_REGION and credentials, e.g. from `aws configure export-credentials`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ -z "${TABLE_NAME:-}" ]; then
  export TABLE_NAME=links AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:${DDB_PORT:-8000}}"
fi
cd "$ROOT"
exec cargo run --quiet --locked --bin keys -- "$@"
