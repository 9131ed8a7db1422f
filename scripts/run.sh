#!/usr/bin/env bash
# The README's "run the main job" command: installs smgov into .venv on a fresh machine, brings the
# database to the newest schema, then runs `smgov ARGS` (default: `sweep`, the daily job that
# reminds and escalates every obligation due and delivers the outbox).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${SMGOV_VENV:-.venv}
if [ ! -x "$venv/bin/smgov" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e .
fi
"$venv/bin/smgov" db upgrade >/dev/null
if [ "$#" -eq 0 ]; then set -- sweep; fi
exec "$venv/bin/smgov" "$@"
