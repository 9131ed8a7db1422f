#!/usr/bin/env bash
# The README's "run the main job" command: installs smgov into .venv on a fresh machine, then runs
# `smgov ARGS` — by default `smgov demo`, the whole story on a fictional organization in its own
# home (./smgov-demo) and database. Any other command runs against the configured database, whose
# schema is brought up to date first.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${SMGOV_VENV:-.venv}
if [ ! -x "$venv/bin/smgov" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e .
fi
if [ "$#" -eq 0 ]; then set -- demo; fi
if [ "$1" != demo ]; then "$venv/bin/smgov" db upgrade >/dev/null; fi
exec "$venv/bin/smgov" "$@"
