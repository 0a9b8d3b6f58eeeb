#!/usr/bin/env bash
# Build what tests/lambda_runtime needs to run the function bundles in the Lambda runtime
# (`make lambda-rie`; `make test` runs it first). Each part is rebuilt only when its inputs change:
#
#   build/lambda-<arch>/layer/python/        `make build` for this machine's architecture (the
#   build/lambda-<arch>/functions/functions/  same script, LAMBDA_ARCH), .pyc for Python 3.12
#   build/lambda-<arch>/runtime/             awslambdaric (AWS's /var/runtime part, pinned in
#                                            requirements/lambda-runtime.lock)
#   build/lambda-<arch>/python/              an empty Python 3.12 venv: the runtime's interpreter
#   .cache/bin/aws-lambda-rie                the Runtime Interface Emulator (go install, Go >= 1.25)
#
# Prints the build directory on its last line. Fails (never skips) when a part cannot be had.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

case "$(uname -m)" in
  x86_64 | amd64) ARCH=x86_64 ;;
  aarch64 | arm64) ARCH=arm64 ;;
  *) echo "error: unsupported machine architecture $(uname -m)" >&2; exit 1 ;;
esac
OUT="$ROOT/build/lambda-$ARCH"
RIE="$ROOT/.cache/bin/aws-lambda-rie"
RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
PIP="${PIP:-$ROOT/.venv/bin/pip}"

# --- Python 3.12 (the Lambda runtime's minor version) -----------------------------------------
is_312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; }
PY312="${LAMBDA_PYTHON:-}"
if [[ -z "$PY312" ]]; then
  for candidate in "$(pyenv which python3.12 2>/dev/null || true)" "$(command -v python3.12 || true)"; do
    if [[ -n "$candidate" ]] && is_312 "$candidate"; then PY312="$candidate"; break; fi
  done
fi
if [[ -z "$PY312" ]] || ! is_312 "$PY312"; then
  echo "error: no Python 3.12 found (pyenv install 3.12, or set LAMBDA_PYTHON)" >&2
  exit 1
fi
# The real interpreter, not a pyenv shim: the venv below must not depend on the shell's pyenv.
PY312="$("$PY312" -c 'import sys; print(sys.executable)')"

# --- the emulator -------------------------------------------------------------------------------
if [[ ! -x "$RIE" ]]; then
  command -v go >/dev/null || { echo "error: Go >= 1.25 is needed to build $RIE_MODULE" >&2; exit 1; }
  echo "==> building aws-lambda-rie (go install, first run only)" >&2
  mkdir -p "$(dirname "$RIE")"
  # The module's release tags are not served by the proxy: @latest resolves to a commit.
  GOBIN="$(dirname "$RIE")" go install "$RIE_MODULE@latest" >&2
fi

# --- bundles, runtime client, interpreter: rebuilt when an input changed ------------------------
inputs_hash() {
  {
    echo "$ARCH $PY312"
    cat requirements/lambda.lock requirements/lambda-runtime.lock scripts/build_lambda.sh "$0"
    find layers/messaging_core functions -name '*.py' -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}
HASH="$(inputs_hash)"
if [[ -f "$OUT/.inputs" && "$(cat "$OUT/.inputs")" == "$HASH" ]]; then
  echo "==> lambda bundles for $ARCH up to date" >&2
else
  echo "==> building the lambda bundles for $ARCH" >&2
  rm -rf "$OUT"
  mkdir -p "$OUT"
  # The runtime tests reach FerretDB without TLS, so Amazon's RDS CA bundle (a download from
  # outside the package registries, unreachable in CI) is stood in for by certifi's PEM file: the
  # layer keeps the same layout. A deployable build (`make build`) still fetches the real one.
  ca_stand_in="${RDS_CA_BUNDLE_FILE:-$("$ROOT/.venv/bin/python" -c 'import certifi; print(certifi.where())')}"
  BUILD_DIR="$OUT" LAMBDA_ARCH="$ARCH" LAMBDA_PYTHON="$PY312" PYTHON="$ROOT/.venv/bin/python" \
    RDS_CA_BUNDLE_FILE="$ca_stand_in" bash scripts/build_lambda.sh >&2
  platform=$([[ $ARCH == x86_64 ]] && echo manylinux2014_x86_64 || echo manylinux2014_aarch64)
  "$PIP" install --quiet --disable-pip-version-check --no-warn-conflicts --root-user-action=ignore \
    --platform "$platform" --only-binary=:all: --python-version 3.12 --implementation cp \
    --target "$OUT/runtime" --require-hashes -r requirements/lambda-runtime.lock >&2
  "$PY312" -m venv --without-pip "$OUT/python"
  echo "$HASH" >"$OUT/.inputs"
fi
echo "$OUT"
