#!/usr/bin/env bash
# Regenerate the clause index (which tests cite which clause) and the README's clause table.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
"$py" -m pytest --collect-only -q -p no:cacheprovider \
  --write-clause-index models/data/clause_tests.json tests >/dev/null
"$py" - <<'PY'
import re
from pathlib import Path
from models.rules import clause_tests, markdown_table
readme = Path("README.md")
table = "<!-- clauses:start -->\n" + markdown_table(clause_tests()) + "\n<!-- clauses:end -->"
readme.write_text(re.sub(r"<!-- clauses:start -->.*<!-- clauses:end -->", lambda _: table,
                         readme.read_text(), flags=re.S))
PY
