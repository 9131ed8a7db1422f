#!/usr/bin/env bash
# The message catalogs (notifications/locale): `extract` writes smgov.pot from the code and the
# Jinja2 templates; `update` merges it into each language's .po (new messages arrive empty, and
# tests/test_i18n.py fails until they are translated; changed ones arrive fuzzy, idem).
# The .po files are compiled in memory on first use (notifications.i18n): no build step.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
LOCALE=notifications/locale
KEYWORDS=(-k T:2 -k N:2,3 -k M:1 -k MN:1,2 -k R:1 -k W:1 -k WC:1c,2 -k _ -k gettext -k ngettext:1,2 -k C:1c,2)
case "${1:-extract}" in
  extract)
    "$PYBABEL" extract -F babel.cfg "${KEYWORDS[@]}" --no-default-keywords --omit-header \
      --sort-by-file --no-wrap -c NOTE: -o "$LOCALE/smgov.pot" .
    ;;
  update)
    "$PYBABEL" update -i "$LOCALE/smgov.pot" -d "$LOCALE" -D smgov --no-wrap --ignore-obsolete
    ;;
  *) echo "usage: scripts/i18n.sh extract|update" >&2; exit 2 ;;
esac
