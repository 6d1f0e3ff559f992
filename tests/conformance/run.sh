#!/usr/bin/env bash
# Runs the pytest conformance suite against a built spaceid binary.
#
#   SPACEID_BIN=target/release/spaceid bash tests/conformance/run.sh [pytest args...]
#
# The server's database is a temporary SQLite file; set SPACEID_CONFORMANCE_DATABASE_URL to
# an empty PostgreSQL database (postgres://USER:PASSWORD@127.0.0.1:5432/DB) to use that instead.
#
# The virtualenv lives at ${CONFORMANCE_VENV:-target/conformance-venv}; it is created and
# brought up to date with requirements.txt on every run. The SpaceONE tools the interoperability
# tests run (spaceone-core, spacectl) pin other grpcio and protobuf versions, so each has a venv
# of its own under target/ (or SPACEID_TOOL_VENVS), made once by the tests that need it and
# reused while its requirements are unchanged (see tests/conformance/tool_venvs.py).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

venv="${CONFORMANCE_VENV:-target/conformance-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r tests/conformance/requirements.txt

export SPACEID_BIN="${SPACEID_BIN:-$repo_root/target/release/spaceid}"
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest tests/conformance -q -p no:cacheprovider "$@"
