#!/usr/bin/env bash
# Install the pinned socket.io-client from the committed lock file (tests/e2e/js/node_modules).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v node >/dev/null || { echo "node not found: install Node.js >= 18" >&2; exit 1; }
if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json ]]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
