#!/usr/bin/env bash
# What the browser test needs: Debian's Chromium (installed with apt when missing and we may) and
# the pinned playwright-core from the committed lock file. A missing browser fails loudly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
    if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
        echo "installing Debian's chromium (first run only)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
    elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
    fi
fi
[[ -x "$CHROMIUM" ]] || { echo "Chromium not found at $CHROMIUM: apt-get install chromium (or set CHROMIUM_PATH)" >&2; exit 1; }
command -v node >/dev/null || { echo "node not found: install Node.js >= 18" >&2; exit 1; }
if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json ]]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
