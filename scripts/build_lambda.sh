#!/usr/bin/env bash
# Build the Lambda artefacts CDK packages (`make build`):
#   build/layer/python/      third-party wheels for Python 3.12 on arm64 + messaging_core
#   build/functions/functions/  the function modules (code root = build/functions)
# LAMBDA_ARCH=x86_64 (default arm64, what the stack deploys) builds for that architecture
# instead; scripts/lambda_rie/prepare.sh uses it to run the bundles under the Lambda runtime
# interface emulator on this machine. BUILD_DIR moves the output.
# Wheels only (--only-binary): nothing is compiled here, so the result does not depend on the
# machine that builds it, and no Docker is needed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build}"
# The lock (`make lock`): every package pinned with its hashes, resolved for arm64 and checked
# to resolve the same for x86_64, so both architectures install from it.
REQUIREMENTS="$ROOT/requirements/lambda.lock"
PYTHON="${PYTHON:-python3}"
LAMBDA_ARCH="${LAMBDA_ARCH:-arm64}"
case "$LAMBDA_ARCH" in
  arm64) PLATFORM=manylinux2014_aarch64 ;;
  x86_64) PLATFORM=manylinux2014_x86_64 ;;
  *) echo "error: LAMBDA_ARCH must be arm64 or x86_64, not '$LAMBDA_ARCH'" >&2; exit 2 ;;
esac

if [[ ! -f "$REQUIREMENTS" ]]; then
  echo "error: requirements/lambda.lock does not exist yet: \`make lock\` writes it from" >&2
  echo "       requirements/lambda.txt (the layer's runtime dependencies, pinned)." >&2
  exit 1
fi
for dir in layers/messaging_core functions; do
  if [[ ! -d "$ROOT/$dir" ]]; then
    echo "error: $dir/ not found under the repository root" >&2
    exit 1
  fi
done

rm -rf "$BUILD/layer" "$BUILD/functions"
mkdir -p "$BUILD/layer/python" "$BUILD/functions"

echo "==> layer dependencies ($PLATFORM, cp312)"
"$PYTHON" -m pip install --quiet --disable-pip-version-check \
  --platform "$PLATFORM" --only-binary=:all: --python-version 3.12 \
  --implementation cp --no-warn-conflicts --root-user-action=ignore --target "$BUILD/layer/python" \
  --require-hashes -r "$REQUIREMENTS"

echo "==> messaging_core into the layer"
cp -R "$ROOT/layers/messaging_core" "$BUILD/layer/python/"

# Amazon's RDS CA bundle (public, documented URL): DocumentDB's certificate is verified against
# it (MONGODB_TLS_CA_FILE=/opt/python/certs/rds-global-bundle.pem). Without it the build fails:
# the functions would refuse to start rather than connect unverified.
RDS_CA_BUNDLE_URL="${RDS_CA_BUNDLE_URL:-https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem}"
echo "==> RDS CA bundle into the layer"
mkdir -p "$BUILD/layer/python/certs"
if [[ -n "${RDS_CA_BUNDLE_FILE:-}" ]]; then  # an offline build: a copy fetched beforehand
  cp "$RDS_CA_BUNDLE_FILE" "$BUILD/layer/python/certs/rds-global-bundle.pem"
else
  curl -fsSL --retry 3 --proto '=https' "$RDS_CA_BUNDLE_URL" \
    -o "$BUILD/layer/python/certs/rds-global-bundle.pem"
fi
grep -q "BEGIN CERTIFICATE" "$BUILD/layer/python/certs/rds-global-bundle.pem"

echo "==> function modules"
cp -R "$ROOT/functions" "$BUILD/functions/functions"

# Stale caches of this machine's Python must not ship.
find "$BUILD" -type d -name __pycache__ -prune -exec rm -rf {} +
find "$BUILD" -name '*.pyc' -delete

# Lambda's /opt and /var/task are read-only, so Python cannot cache bytecode there: a bundle
# without .pyc compiles every module it imports on every cold start (bench/cold_start.py
# measures both). Compile with the runtime's own minor version; "unchecked-hash" makes the
# .pyc independent of file times (zips reset them) and the build reproducible.
is_312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }
# LAMBDA_PYTHON if set; else python3.12 or python3 on PATH; else any pyenv-installed 3.12 (a pyenv
# shim fails when another version is selected, the interpreter under its root does not).
find_python312() {
  local candidate
  for candidate in ${LAMBDA_PYTHON:-} python3.12 python3 \
    "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    if command -v "$candidate" >/dev/null 2>&1 && is_312 "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
if LAMBDA_PYTHON="$(find_python312)"; then
  echo "==> bytecode for Python 3.12 ($LAMBDA_PYTHON)"
  "$LAMBDA_PYTHON" -m compileall -q -j 0 --invalidation-mode unchecked-hash \
    "$BUILD/layer/python" "$BUILD/functions" >/dev/null
else
  echo "warning: no Python 3.12 found (set LAMBDA_PYTHON): the bundle ships without bytecode," >&2
  echo "         so each cold start compiles every module it imports (see bench/cold_start.py)" >&2
fi

echo "==> built: $(du -sh "$BUILD/layer" | cut -f1) layer, $(du -sh "$BUILD/functions" | cut -f1) functions"
