"""`smgov request` (new-account requests, 3.2) and `smgov survey` (the UN system reference list
the duplication survey reads, 3.2(a)). Each step of a request carries on the approval process."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from models.errors import CheckFailed, Refused
from smgov import output
from smgov.cli.common import AsOfOpt, ByOpt, JsonOpt, csv_rows, effective_time, run, show

app = typer.Typer(no_args_is_help=True, help="New-account requests (3.2).")
survey_app = typer.Typer(no_args_is_help=True, help="The UN system reference list (3.2(a)).")


def _request_file(path: str) -> Any:
    import yaml

    from models.requests import parse_request

    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise Refused("--file", f"cannot read {path} as UTF-8 YAML: {type(exc).__name__}") from exc
    return parse_request(raw)


def _carry_on(request_id: int, as_of: str | None) -> dict[str, Any]:
    from flows.run import run_process
    from models.clock import iso

    try:
        return run_process("approval", request_id=request_id, as_of=iso(effective_time(as_of)))
    except Exception as exc:  # recorded already; the next run carries it on
        raise CheckFailed(
            f"request {request_id}: recorded, but the approval flow could not "
            f"run now ({type(exc).__name__})"
        ) from exc


@app.command("new")
def request_new(
    file: Annotated[str | None, typer.Option("--file", help="REQUEST.yaml")] = None,
    by: Annotated[str | None, typer.Option("--by")] = None,
    template: Annotated[bool, typer.Option("--template", help="print a request to fill")] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Request a new account with the 3.2 evidence; smgov surveys for duplicates itself."""
    from models.requests import TEMPLATE
    from services import requests

    if template:
        typer.echo(TEMPLATE, nl=False)
        return
    if file is None or by is None:
        raise Refused("--file" if file is None else "--by", "is required (or --template)")
    data = _request_file(file)
    request = run(lambda c: requests.submit(c, data, by=by), as_of=as_of)
    request_id = int(request.id or 0)
    _carry_on(request_id, as_of)
    view = run(lambda c: requests.request_view(c, requests.get_request(c, request_id)), as_of=as_of)
    if as_json:
        output.emit_json(view)
    else:
        typer.echo(
            f"request {view['id']} submitted; {len(view['duplicates'])} possible "
            f"duplicates found; the head of {view['entity']} has been asked to decide"
        )


@app.command("resubmit")
def request_resubmit(
    request_id: Annotated[int, typer.Argument(metavar="ID")],
    file: Annotated[str, typer.Option("--file")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Answer a request returned for information."""
    from services import requests

    data = _request_file(file)
    run(lambda c: requests.resubmit(c, request_id, data, by=by), as_of=as_of)
    _carry_on(request_id, as_of)
    typer.echo(f"request {request_id} resubmitted")


@app.command("withdraw")
def request_withdraw(
    request_id: Annotated[int, typer.Argument(metavar="ID")],
    by: ByOpt,
    reason: Annotated[str, typer.Option("--reason")] = "withdrawn by the requester",
    as_of: AsOfOpt = None,
) -> None:
    """Withdraw one's own request."""
    from services import requests

    run(lambda c: requests.withdraw(c, request_id, by=by, reason=reason), as_of=as_of)
    typer.echo(f"request {request_id} withdrawn")


@app.command("decide")
def request_decide(
    request_id: Annotated[int, typer.Argument(metavar="ID")],
    decision: Annotated[str, typer.Option("--decision", help="approve, reject or return")],
    reason: Annotated[str, typer.Option("--reason")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """The head of entity (or officer-in-charge) decides, with reasons."""
    from services import requests

    request = run(
        lambda c: requests.decide(c, request_id, decision=decision, reason=reason, by=by),
        as_of=as_of,
    )
    _carry_on(request_id, as_of)
    extra = f"; account {request.account_id} awaits creation" if request.account_id else ""
    typer.echo(f"request {request_id} {request.state}{extra}")


@app.command("list")
def request_list(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Requests and their state."""
    from services import requests

    show(
        run(requests.list_requests, as_of=as_of),
        as_json,
        ["id", "entity", "platform", "handle", "state", "requested_by", "account"],
    )


@app.command("show")
def request_show(
    request_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """A request: evidence, duplication survey, language parity, history."""
    from services import requests

    view = run(lambda c: requests.request_view(c, requests.get_request(c, request_id)), as_of=as_of)
    if as_json:
        output.emit_json(view)
        return
    output.record({k: v for k, v in view.items() if k not in ("evidence", "parity")})
    for key, value in view["evidence"].items():
        typer.echo(f"  {key}: {value}")
    for platform, langs in view["parity"].items():
        covered = " ".join(code if ok else "--" for code, ok in langs.items())
        typer.echo(f"  parity {platform}: {covered}")


@survey_app.command("import")
def survey_import(file: Annotated[str, typer.Argument(metavar="FILE.csv")]) -> None:
    """Load other UN system organizations' accounts (columns: organization,platform,handle,url,
    languages,purpose,audience) for the duplication survey (3.2(a))."""

    from services.requests import SURVEY_COLUMNS, import_survey

    rows = list(csv_rows(file, SURVEY_COLUMNS))
    result = run(lambda c: import_survey(c, rows))
    typer.echo(
        f"{result['added']} accounts added to the reference list, {result['updated']} updated"
    )
