#!/usr/bin/env bash
# Build the Lambda artefacts CDK packages (`make build`):
#   build/layer/python/      third-party wheels for Python 3.12 on arm64 + messaging_core
#   build/functions/functions/  the function modules (code root = build/functions)
# Wheels only (--only-binary): nothing is compiled here, so the result does not depend on the
# machine that builds it, and no Docker is needed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build}"
REQUIREMENTS="$ROOT/requirements/lambda.txt"
PYTHON="${PYTHON:-python3}"

if [[ ! -f "$REQUIREMENTS" ]]; then
  echo "error: requirements/lambda.txt does not exist yet: it lists the layer's runtime" >&2
  echo "       dependencies (pinned) and must be written before 'make build'." >&2
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

echo "==> layer dependencies (manylinux2014_aarch64, cp312)"
"$PYTHON" -m pip install --quiet --disable-pip-version-check \
  --platform manylinux2014_aarch64 --only-binary=:all: --python-version 3.12 \
  --implementation cp --no-warn-conflicts --root-user-action=ignore --target "$BUILD/layer/python" -r "$REQUIREMENTS"

echo "==> messaging_core into the layer"
cp -R "$ROOT/layers/messaging_core" "$BUILD/layer/python/"

echo "==> function modules"
cp -R "$ROOT/functions" "$BUILD/functions/functions"

# Caches would only bloat the zips (and change their hash on every build).
find "$BUILD" -type d -name __pycache__ -prune -exec rm -rf {} +
find "$BUILD" -name '*.pyc' -delete

echo "==> built: $(du -sh "$BUILD/layer" | cut -f1) layer, $(du -sh "$BUILD/functions" | cut -f1) functions"
