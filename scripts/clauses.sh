#!/usr/bin/env bash
# Regenerate the clause index (which tests cite which clause) and the manual's clause table
# (docs/reference/clauses.md, between the clauses markers).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
"$py" -m pytest --collect-only -q -p no:cacheprovider \
  --write-clause-index models/data/clause_tests.json tests >/dev/null
"$py" - <<'PY'
import re
from pathlib import Path
from models.rules import clause_tests, markdown_table
page = Path("docs/reference/clauses.md")
table = "<!-- clauses:start -->\n" + markdown_table(clause_tests()) + "\n<!-- clauses:end -->"
page.write_text(re.sub(r"<!-- clauses:start -->.*<!-- clauses:end -->", lambda _: table,
                       page.read_text(), flags=re.S))
PY
