#!/usr/bin/env bash
# The test command of README.md: sets up what the tests need outside Rust,
# then runs every test.
#
# The object-store tests (tests/s3.rs) start a real S3-compatible server on
# 127.0.0.1: moto_server from PyPI, installed once into a venv under
# ~/.cache/clvsql (override with CLVSQL_VENV). CLVSQL_MOTO_SERVER tells the
# tests where it is.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${CLVSQL_VENV:-$HOME/.cache/clvsql/venv-moto}"
if [ ! -x "$venv/bin/moto_server" ]; then
    echo "== installing moto_server into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.*'
fi
export CLVSQL_MOTO_SERVER="$venv/bin/moto_server"

cargo test --workspace "$@"
