"""`smgov report` (where each entity stands) and `smgov clauses` (each actionable item of the
bulletin and what smgov does about it)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from models.errors import Refused
from smgov import output
from smgov.cli.common import (
    AsOfOpt,
    EntityFilterOpt,
    JsonOpt,
    T,
    command,
    group,
    lang,
    run,
    writable,
)

app = group("Reports: where each entity stands.")
root = typer.Typer()  # smgov clauses


@command(app, "compliance", example="smgov report compliance --format html --output report.html")
def report_compliance(
    entity: EntityFilterOpt = None,
    fmt: Annotated[
        str,
        typer.Option("--format", metavar="FORMAT", help="The output: table, json, csv or html."),
    ] = "table",
    as_json: JsonOpt = False,
    out: Annotated[
        str | None,
        typer.Option(
            "--output", metavar="FILE", help="Write the report to FILE (default: stdout)."
        ),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Where each entity stands: completeness, overdue duties, orphans, parity (2.3)."""
    from services import reports

    kind = "json" if as_json else fmt
    if kind not in ("table", "json", "csv", "html"):
        raise Refused("--format", "must be table, json, csv or html")
    if out:
        writable("--output", out)
    if entity:
        from services.entities import get_entity

        run(lambda c: get_entity(c, entity))
    data = run(lambda c: reports.compliance(c, entity=entity), as_of=as_of)
    if kind == "json":
        import json

        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        text = {"table": reports.as_table, "csv": reports.as_csv, "html": reports.as_html}[kind](
            data
        )
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
        if kind != "json":
            typer.echo(T(lang(), "report written to {path}", path=out))
    else:
        sys.stdout.write(text)


@command(root, "clauses", example="smgov clauses --json")
def clauses(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Each actionable item of the bulletin: its status (enforced, recorded, outside software),
    the rule, its code, the tests marked to prove it, open and overdue obligations."""
    from models.rules import RULES, clause_tests, tests_for
    from services.reports import clause_counts

    index = clause_tests()
    counts = run(clause_counts, as_of=as_of)
    rows: list[dict[str, Any]] = []
    for rule in RULES:
        opened, overdue = counts.get(rule.clause, (0, 0))
        rows.append(
            {
                "clause": rule.clause,
                "title": rule.title,
                "status": rule.status,
                "rule": rule.rule,
                "code": rule.code,
                "tests": tests_for(rule.clause, index),
                "open": opened,
                "overdue": overdue,
            }
        )
    if as_json:
        output.emit_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['clause']:7} {row['status']:16} open {row['open']:>4}  "
            f"overdue {row['overdue']:>4}  tests {len(row['tests']):>3}  {row['title']}: "
            f"{row['rule']}"
        )
