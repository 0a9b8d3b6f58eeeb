#!/usr/bin/env bash
# `make smoke URL=https://<ServiceUrl>`: a short black-box check of a deployed (or local) service
# with the official Socket.IO client. Tokens: SMOKE_JWT_SECRET, or SMOKE_{PATIENT,DOCTOR}_{TOKEN,ID}
# (see scripts/smoke/smoke.js and docs/deploy.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
URL="${1:-${URL:-}}"
if [[ -z "$URL" ]]; then
  echo "usage: make smoke URL=https://<the stack's ServiceUrl>" >&2
  exit 2
fi
bash "$ROOT/tests/e2e/js/install.sh" >&2
NODE_PATH="$ROOT/tests/e2e/js/node_modules" exec node "$ROOT/scripts/smoke/smoke.js" "$URL"
