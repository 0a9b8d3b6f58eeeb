#!/usr/bin/env bash
# `make lock`: requirements/X.txt -> requirements/X.lock, every package pinned with the sha256
# of each of its published files, for `pip install --require-hashes -r requirements/X.lock`.
#
# Resolved for CPython 3.12 (what development, CI, the image and Lambda run) on Linux:
#   dev, run, socket, infra     x86_64 (this machine, CI)
#   lambda, lambda-runtime      arm64 (what the stack deploys; build_lambda.sh installs with
#                               --platform manylinux2014_aarch64)
# and each checked to resolve the same on the other architecture (LAMBDA_ARCH=x86_64 for the
# runtime-emulator tests, an image built on arm64). The hashes cover every file of a pinned
# version, so one lock serves either architecture.
# Edit the .txt files (direct pins, with why), never the .lock files; then run `make lock`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV="${UV:-.venv/bin/uv}"
# uv reads the system's CA store when told (pip is configured with it through pip.conf).
export UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"

compile() { # SET PLATFORM [OUT]
    local set="$1" platform="$2" out="${3:-requirements/$1.lock}"
    "$UV" pip compile "requirements/$set.txt" --quiet --generate-hashes --python-version 3.12 \
        --python-platform "$platform" --custom-compile-command "make lock" --output-file "$out"
}

# SET -> the platform its lock is resolved for; each is also resolved for the other architecture
# and must come out the same (markers could make them differ): one lock then serves both.
declare -A PLATFORM=(
    [dev]=x86_64-manylinux_2_28 [run]=x86_64-manylinux_2_28 [infra]=x86_64-manylinux_2_28
    [socket]=x86_64-manylinux_2_28
    [lambda]=aarch64-manylinux2014 [lambda-runtime]=aarch64-manylinux2014
)
declare -A OTHER=([x86_64-manylinux_2_28]=aarch64-manylinux_2_28 [aarch64-manylinux2014]=x86_64-manylinux2014)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for set in dev run socket infra lambda lambda-runtime; do
    platform="${PLATFORM[$set]}"
    compile "$set" "$platform"
    compile "$set" "${OTHER[$platform]}" "$tmp/$set.lock"
    if ! diff -q <(grep -v '^#' "requirements/$set.lock") <(grep -v '^#' "$tmp/$set.lock") >/dev/null; then
        echo "error: requirements/$set.txt resolves differently on $platform and" \
            "${OTHER[$platform]}:" >&2
        diff <(grep -v '^#' "requirements/$set.lock") <(grep -v '^#' "$tmp/$set.lock") >&2 || true
        exit 1
    fi
done
echo "requirements/*.lock written"
