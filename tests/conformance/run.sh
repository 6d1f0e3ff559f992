#!/usr/bin/env bash
# Runs the pytest conformance suite against a built spaceid binary.
#
#   SPACEID_BIN=target/release/spaceid bash tests/conformance/run.sh [pytest args...]
#
# The server's database is a temporary SQLite file; set SPACEID_CONFORMANCE_DATABASE_URL to
# an empty PostgreSQL database (postgres://USER:PASSWORD@127.0.0.1:5432/DB) to use that instead.
#
# SPACEID_API_GENERATION=current runs the server in the current API generation and the tests
# that speak it through spaceone-api==2.0.435 (requirements-current.txt) instead of 2.0.300.
#
# The virtualenv lives at ${CONFORMANCE_VENV:-target/conformance-venv} (with `-current` for
# the current generation); it is created and brought up to date with the generation's
# requirements on every run. The SpaceONE tools the interoperability
# tests run (spaceone-core, spacectl) pin other grpcio and protobuf versions, so each has a venv
# of its own under target/ (or SPACEID_TOOL_VENVS), made once by the tests that need it and
# reused while its requirements are unchanged (see tests/conformance/tool_venvs.py).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

venv="${CONFORMANCE_VENV:-target/conformance-venv}"
case "${SPACEID_API_GENERATION:=seeds}" in
    seeds) requirements=tests/conformance/requirements.txt ;;
    current) requirements=tests/conformance/requirements-current.txt; venv="$venv-current" ;;
    *) echo "SPACEID_API_GENERATION must be seeds or current" >&2; exit 2 ;;
esac
export SPACEID_API_GENERATION
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$requirements"

export SPACEID_BIN="${SPACEID_BIN:-$repo_root/target/release/spaceid}"
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest tests/conformance -q -p no:cacheprovider "$@"
