#!/usr/bin/env bash
# Install everything the tests need (Debian packages, the venv with test extras, emulators),
# make sure the services they use answer, then run the checks and the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k skopeo
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(skopeo umoci docker-registry buildah runc redis-server wrk swift-proxy swift-object swift-container swift-account memcached eatmydata)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
echo "== installing the project with its test extras"
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING" || true
.venv/bin/python -m pip install --quiet -e ".[cloud,postgres,test]" 2>&1 | grep -v "^WARNING" || true

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "== starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (strict)"
.venv/bin/mypy
echo "== import direction"
.venv/bin/lint-imports
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
