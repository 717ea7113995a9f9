#!/usr/bin/env bash
# Install hth-registry into ./.venv and run the whole platform on the embedded default
# (filesystem storage and SQLite under ./var, no external server). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/hth-ctl up "$@"
