#!/usr/bin/env bash
# The README's test command: sets up everything on a fresh machine, then lints, type-checks,
# builds the manual (mkdocs --strict) and runs the whole suite on SQLite and PostgreSQL. Any failure, any skip under CI, or no test run
# (pytest exit 5) fails it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${SMGOV_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
# The dev group holds the test, lint and docs groups (pytest, ruff, mypy, mkdocs-material).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e . --group dev

# PostgreSQL: the local server on 127.0.0.1:5432 (trust auth), started if it is installed but down.
export SMGOV_TEST_POSTGRES_URL=${SMGOV_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
"$venv/bin/python" - <<'PY'
import os, sys
import psycopg
url = os.environ["SMGOV_TEST_POSTGRES_URL"].replace("postgresql+psycopg://", "postgresql://")
try:
    psycopg.connect(url, connect_timeout=10).close()
except Exception as exc:
    sys.exit(f"error: PostgreSQL at {url} is unreachable: {exc}")
PY

# Debian's Chromium renders the HTML report in a test (never a browser a tool downloads itself).
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  }
fi
# Fonts for the six official languages, so browser screenshots show real glyphs: Debian's Noto CJK
# (Chinese) and Noto core (Arabic, Cyrillic, Latin).
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] \
  && ! { dpkg -s fonts-noto-cjk && dpkg -s fonts-noto-core; } >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-cjk fonts-noto-core >/dev/null 2>&1 || {
    apt-get update -q >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-cjk fonts-noto-core >/dev/null
  }
fi

# Nothing from the user's own smgov or Prefect set-up leaks into the tests.
unset SMGOV_HOME SMGOV_DATABASE_URL PREFECT_API_URL PREFECT_HOME || true

"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"
# The manual: a broken link or anchor, or a page missing from the nav, fails (mkdocs.yml has
# strict: true). Never --quiet: it hides the warnings, and strict mode then counts none. The site
# is written outside the repository and thrown away.
site=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 "$venv/bin/mkdocs" build --strict --site-dir "$site"
rm -rf "$site"
# One worker per core (pytest-xdist), each test module whole on one worker (its module-scoped
# servers started once); each worker has its own PostgreSQL template database, SQLite template,
# PREFECT_HOME and Prefect server (tests/conftest.py). SMGOV_TEST_WORKERS=0 runs in one process.
"$venv/bin/python" -m pytest -rs -q -n "${SMGOV_TEST_WORKERS:-auto}" --dist loadfile "$@"
