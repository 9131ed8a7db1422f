"""`smgov request` (new-account requests, 3.2) and `smgov survey` (the UN system reference list
the duplication survey reads, 3.2(a)). Each step of a request carries on the approval process."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from models.errors import CheckFailed, Refused
from models.ids import MAX_ID
from models.requests import DECISIONS
from smgov import output
from smgov.cli.common import (
    AsOfOpt,
    ByOpt,
    JsonOpt,
    T,
    command,
    csv_rows,
    effective_time,
    group,
    lang,
    one_of,
    run,
    show,
)

app = group("New-account requests (3.2): submit, decide, follow.")
survey_app = group("The UN system reference list the duplication survey reads (3.2(a)).")


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


#: a request's number, as every request command takes it
RequestId = Annotated[
    int,
    typer.Argument(
        metavar="ID", min=1, max=MAX_ID, help="The request's number (smgov request list)."
    ),
]


@command(app, "new", example="smgov request new --file request.yaml --by 100004")
def request_new(
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            metavar="REQUEST.yaml",
            help="The request with its 3.2 evidence, as UTF-8 YAML (see --template).",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", metavar="INDEX", help="Staff index number of the requester."),
    ] = None,
    template: Annotated[
        bool, typer.Option("--template", help="Print a request to fill, and nothing else.")
    ] = False,
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
            T(
                lang(),
                "request {id} submitted; {count} possible duplicates found; the head of {code} "
                "has been asked to decide",
                id=str(view["id"]),
                count=str(len(view["duplicates"])),
                code=view["entity"],
            )
        )


@command(app, "resubmit", example="smgov request resubmit 3 --file request.yaml --by 100004")
def request_resubmit(
    request_id: RequestId,
    file: Annotated[
        str,
        typer.Option(
            "--file", metavar="REQUEST.yaml", help="The request completed, as UTF-8 YAML."
        ),
    ],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Answer a request returned for information."""
    from services import requests

    data = _request_file(file)
    run(lambda c: requests.resubmit(c, request_id, data, by=by), as_of=as_of)
    _carry_on(request_id, as_of)
    typer.echo(T(lang(), "request {id} resubmitted", id=str(request_id)))


@command(app, "withdraw", example='smgov request withdraw 3 --by 100004 --reason "merged with 4"')
def request_withdraw(
    request_id: RequestId,
    by: ByOpt,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why it is withdrawn.")
    ] = "withdrawn by the requester",
    as_of: AsOfOpt = None,
) -> None:
    """Withdraw one's own request."""
    from services import requests

    run(lambda c: requests.withdraw(c, request_id, by=by, reason=reason), as_of=as_of)
    typer.echo(T(lang(), "request {id} withdrawn", id=str(request_id)))


@command(
    app,
    "decide",
    example='smgov request decide 3 --decision approve --reason "need shown" --by 100001',
)
def request_decide(
    request_id: RequestId,
    decision: Annotated[
        str,
        typer.Option("--decision", metavar="DECISION", help=f"The decision: {one_of(DECISIONS)}."),
    ],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="The reasons, told to the requester.")
    ],
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
    typer.echo(decided(lang(), str(request_id), request.state, request.account_id))


def decided(words: str, ident: str, state: str, account: int | None) -> str:
    """`request 3 approved; account 7 awaits creation`, in the operator's words."""
    if state == "approved" and account is not None:
        return T(
            words,
            "request {id} approved; account {account} awaits creation",
            id=ident,
            account=str(account),
        )
    if state == "rejected":
        return T(words, "request {id} rejected", id=ident)
    if state == "returned":
        return T(words, "request {id} returned", id=ident)
    return T(words, "request {id} {state}", id=ident, state=state)


@command(app, "list", example="smgov request list --json")
def request_list(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Requests and their state."""
    from services import requests

    show(
        run(requests.list_requests, as_of=as_of),
        as_json,
        ["id", "entity", "platform", "handle", "state", "requested_by", "account"],
    )


@command(app, "show", example="smgov request show 3 --json")
def request_show(
    request_id: RequestId,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """A request: evidence, duplication survey, language parity, history."""
    from services import requests

    view = run(lambda c: requests.request_view(c, requests.get_request(c, request_id)), as_of=as_of)
    if as_json:
        output.emit_json(view)
        return
    words = lang()
    output.record({k: v for k, v in view.items() if k not in ("evidence", "parity")}, words)
    for key, value in view["evidence"].items():
        typer.echo(f"  {key}: {value}")
    for platform, langs in view["parity"].items():
        covered = " ".join(code if ok else "--" for code, ok in langs.items())
        typer.echo(
            "  " + T(words, "parity {platform}: {covered}", platform=platform, covered=covered)
        )


@command(survey_app, "import", example="smgov survey import unsystem.csv")
def survey_import(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE.csv",
            help="A UTF-8 CSV file with the columns organization,platform,handle,url,"
            "languages,purpose,audience.",
        ),
    ],
) -> None:
    """Load other UN system organizations' accounts for the duplication survey (3.2(a)):
    columns organization,platform,handle,url,languages,purpose,audience."""

    from services.requests import SURVEY_COLUMNS, import_survey

    rows = list(csv_rows(file, SURVEY_COLUMNS))
    result = run(lambda c: import_survey(c, rows))
    typer.echo(
        T(
            lang(),
            "{added} accounts added to the reference list, {updated} updated",
            added=str(result["added"]),
            updated=str(result["updated"]),
        )
    )
