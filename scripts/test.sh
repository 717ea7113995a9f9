#!/usr/bin/env bash
# Install everything the tests need (Debian packages, the venv with test extras, emulators),
# make sure the services they use answer, then run the checks and the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k skopeo
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(skopeo umoci docker-registry docker.io buildah podman runc redis-server wrk swift-proxy swift-object swift-container swift-account memcached eatmydata postgresql chromium nginx-light)
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
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[cloud,postgres,test]"

# Azurite (the Azure Blob emulator) comes from npm, into a folder git ignores.
if [ ! -x .cache/azurite/node_modules/.bin/azurite-blob ]; then
  echo "== installing Azurite into .cache/azurite"
  if ! command -v npm >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
  fi
  mkdir -p .cache/azurite
  npm install --prefix .cache/azurite --no-audit --no-fund --silent azurite
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "== starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

# The task database tests use PostgreSQL at $HTH_TEST_POSTGRES (default: the machine's server
# with trust auth for user postgres). Without one, a private throwaway cluster is started.
if [ -z "${HTH_TEST_POSTGRES:-}" ] && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "== starting a private PostgreSQL on 127.0.0.1:55432 (.cache/postgres)"
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PG_DATA="$PWD/.cache/postgres"
  RUN_AS=(); [ "$(id -u)" -eq 0 ] && RUN_AS=(runuser -u postgres --)  # postgres refuses root
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    mkdir -p "$PG_DATA" && { [ "$(id -u)" -ne 0 ] || chown postgres "$PG_DATA"; }
    "${RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres >/dev/null
  fi
  pg_isready -q -h 127.0.0.1 -p 55432 || "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -w \
    -l "$PG_DATA/server.log" -o "-h 127.0.0.1 -p 55432 -k $PG_DATA" start >/dev/null
  export HTH_TEST_POSTGRES="postgresql://postgres@127.0.0.1:55432"
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
