"""The web door (served by `smgov api` beside the HR intake): pages for heads of entities and staff.

Every action calls the same service functions as the CLI, in the same unit of work, so the
authority rules (only the head or officer-in-charge decides, no self-approval, separated staff
can do nothing) hold identically; this module only authenticates, parses forms and renders.

Sign-in: a one-task link from an e-mail (services.links: single-use, expiring, bound to one staff
member and one task; its page shows what it is for, and only the POST of its button uses it, so
mail scanners spend nothing) or OpenID Connect against the organization's identity provider (a
verified e-mail claim only; the redirect URI comes from SMGOV_PUBLIC_URL, never the Host header).
The session is a server-side row (services.access) whose random id travels in a signed, HTTP-only
cookie (Secure unless `cookie_secure` is off): sign-out, separation, reassignment and role changes
end it at once. Pages are scoped to the reader (services.access.may_read): anything else is 404.
Every form carries a per-session CSRF token and is refused from another origin.
"""

from __future__ import annotations

import hmac
import logging
import queue
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from models.assessment import DECISIONS as ASSESSMENT_DECISIONS
from models.clock import parse_instant, system_now
from models.errors import NotAuthorized, NotFound, R, Refused
from models.languages import OFFICIAL_LANGUAGES
from models.requests import EVIDENCE, RISK_RATINGS, parse_request
from models.settings import Settings
from notifications.i18n import M, due_words, instant, render
from notifications.signing import derived, web_key
from services import (
    access,
    accounts,
    custody,
    links,
    obligations,
    reassessment,
    reports,
    requests,
)
from services.context import Ctx, run
from services.entities import get_entity, get_staff
from services.subjects import platform_label
from smgov.web_texts import (
    LANGUAGE_NAMES,
    best_language,
    direction,
    ref_words,
    refusal,
    said,
    texts,
)

T = TypeVar("T")
#: A record id in a path: anything else (20 digits, text) is "not found", never a server error.
Id = Annotated[int, PathParam(ge=1, le=2_147_483_647)]
log = logging.getLogger("smgov.web")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class Stop(Exception):
    """Ends a request with a page that says why (a refusal, a missing sign-in, a bad form)."""

    def __init__(
        self, status: int, message: str, *, sign_in: bool = False, words: object = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.sign_in = sign_in
        self.words = words  # a service's refusal in words its reader's language has


class _Carrier:
    """Runs the approval flow after a submission or a decision, off the request thread, so the
    survey, the head's notice and the authorizations follow as they do after the CLI."""

    def __init__(self) -> None:
        self._queue: queue.Queue[int] = queue.Queue()
        threading.Thread(target=self._loop, name="approval-carrier", daemon=True).start()

    def add(self, request_id: int) -> None:
        self._queue.put(request_id)

    def _loop(self) -> None:
        from flows.run import run_process  # the Prefect flow if a server is configured

        while True:
            request_id = self._queue.get()
            try:
                run_process("approval", request_id=request_id, as_of=None)
            except Exception:  # recorded already; the next run (CLI or sweep) carries it on
                log.exception("the approval flow for request %s could not run now", request_id)


def _origin_of(url: str | None) -> str | None:
    """scheme://host[:port] of a URL (None when it has none)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def describe_task(task: str) -> dict[str, str]:
    """A task subject as the link page names it: its kind and number."""
    kind, _, number = task.partition(":")
    return {"kind": kind, "number": number, "path": path_of(task)}


def path_of(task: str) -> str:
    """The page where a task is done."""
    kind, _, number = task.partition(":")
    if kind == "request" and number.isdigit():
        return f"/requests/{number}"
    if kind == "assessment" and number.isdigit():
        return f"/assessments/{number}"
    if kind == "account" and number.isdigit():
        return f"/accounts/{number}/custody"
    return "/tasks"


def install(app: FastAPI, config: Settings, engine: Engine) -> None:
    """Add the pages to the ASGI app."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=derived(web_key(config), "session"),
        session_cookie="smgov_session",
        max_age=config.session_hours * 3600,
        same_site="lax",
        https_only=config.cookie_secure,
    )
    carrier = _Carrier()
    oauth = _oauth(config)
    own_origin = _origin_of(config.public_url)

    def call(use_case: Callable[[Ctx], T], as_of: str | None = None) -> T:
        """Run a service in its own unit of work at the real time (read pages: `?as_of=`)."""
        try:
            now = parse_instant(as_of, field="as_of") if as_of else system_now()
            return run(engine, config, now, use_case)
        except (NotAuthorized, links.Spent) as exc:
            raise Stop(403, str(exc), words=exc) from exc
        except NotFound as exc:
            raise Stop(404, str(exc), words=exc) from exc
        except Refused as exc:
            raise Stop(400, str(exc), words=exc) from exc

    async def acall(use_case: Callable[[Ctx], T]) -> T:
        """`call` from an async route: in a worker thread, never on the event loop (a batch or
        a SQLite lock must not freeze the other requests)."""
        return await run_in_threadpool(call, use_case)

    async def session_of(request: Request) -> None:
        """Look the browser's session up in a worker thread before an async route uses it."""
        await run_in_threadpool(current, request)

    def language(request: Request) -> str:
        asked = request.query_params.get("lang")
        if asked in OFFICIAL_LANGUAGES:
            request.session["lang"] = asked
            return str(asked)
        return str(
            request.session.get("lang") or best_language(request.headers.get("accept-language"))
        )

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return str(token)

    def current(request: Request) -> access.Who | None:
        """The live server-side session of this browser, if any (checked once per request)."""
        if hasattr(request.state, "who"):
            return request.state.who  # type: ignore[no-any-return]  # set just below
        sid = request.session.get("sid")
        found = call(lambda c: access.resume(c, str(sid))) if isinstance(sid, str) else None
        if found is None and sid is not None:
            request.session.pop("sid", None)
        request.state.who = found
        return found

    def page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        lang = language(request)
        who = current(request)
        return TEMPLATES.TemplateResponse(
            request,
            name,
            {
                "lang": lang,
                "dir": direction(lang),
                "t": texts(lang),
                "due_words": lambda at, tz: due_words(parse_instant(at), tz, lang),
                "when": lambda at, tz="UTC": instant(
                    parse_instant(at) if isinstance(at, str) else at, lang, tz
                ),
                "platform": platform_label,
                "said": lambda text: said(text, lang),
                "ref_words": lambda ref: ref_words(ref, lang),
                "languages": LANGUAGE_NAMES,
                "user": who.staff if who else None,
                "user_name": who.name if who else None,
                "scope": who.scope if who else None,
                "csrf": csrf_token(request),
                "oidc": oauth is not None,
                "here": request.url.path,
                **values,
            },
            status_code=status,
        )

    def signed_in(request: Request, task: str | None = None) -> str:
        """The acting staff member; a link session may act on its own task only."""
        who = current(request)
        if who is None:
            raise Stop(401, texts(language(request))["sign_in_needed"], sign_in=True)
        if who.scope is not None and who.scope != task:
            raise Stop(403, texts(language(request))["other_task"])
        return who.staff

    def reader(request: Request, subject: str) -> str:
        """The signed-in person, who must be allowed to read `subject` (else 404: ids are not
        probed). A link session reads the one task its link was sent for."""
        staff = signed_in(request, subject)
        who = current(request)
        if who is None or who.scope != subject:
            call(lambda c: access.may_read(c, staff_index=staff, subject=subject))
        return staff

    def sign_in_as(request: Request, staff: str, scope: str | None, how: str) -> None:
        """A fresh server-side session (and a fresh cookie: no session fixation)."""
        old = request.session.get("sid")
        if isinstance(old, str):
            call(lambda c: access.end(c, old))
        sid = call(lambda c: access.start(c, staff_index=staff, scope=scope, how=how))
        lang = request.session.get("lang")
        request.session.clear()
        request.session.update({"sid": sid, "lang": lang})
        request.state.who = None

    async def form_of(request: Request) -> dict[str, str]:
        """The posted form, after its origin and its CSRF token are checked: a form posted from
        another site (its Origin, else its Referer, names another origin; or the browser says
        cross-site) or without this session's token is refused."""
        refused = Stop(403, texts(language(request))["csrf"])
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise refused
        origin = request.headers.get("origin") or _origin_of(request.headers.get("referer"))
        if own_origin and origin and origin != own_origin:
            raise refused
        try:  # read whole once (the form parser reads it again from memory)
            (await request.body()).decode("utf-8")
        except UnicodeDecodeError:  # bytes a parser would read as Latin-1: never stored
            raise _not_text("form") from None
        form = await request.form()
        given = form.get("csrf")
        expected = str(request.session.get("csrf") or "")
        if not expected or not isinstance(given, str) or not given.isascii():
            raise refused
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise refused
        fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        for name, value in fields.items():  # %-escaped bytes that are not UTF-8 read as U+FFFD
            if "\ufffd" in name or "\ufffd" in value:
                raise _not_text(name if "\ufffd" not in name else "form")
        return fields

    def _not_text(field: str) -> Stop:
        """A form whose bytes are not UTF-8 text: refused whole, nothing recorded."""
        words = Refused(field, R("must be text in UTF-8"))
        return Stop(400, str(words), words=words)

    @app.exception_handler(Stop)
    async def stopped(request: Request, exc: Stop) -> Response:
        await session_of(request)
        return page(request, "message.html", exc.status, message=stop_words(request, exc), stop=exc)

    def stop_words(request: Request, stop: Stop) -> str:
        """Why a request stopped, in its reader's language."""
        if isinstance(stop.words, Refused):
            return refusal(stop.words, language(request))
        return render(stop.words, language(request)) if stop.words is not None else stop.message

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        """A malformed path id is "not found"; any other malformed field a 400 (never a 500)."""
        errors = exc.errors()
        status = 404 if errors and errors[0].get("loc", ("",))[0] == "path" else 400
        where = ".".join(str(x) for x in errors[0].get("loc", ())) if errors else "request"
        return JSONResponse({"error": f"{where}: malformed"}, status_code=status)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/tasks", status_code=303)

    # ---- sign-in ------------------------------------------------------------------------

    @app.api_route("/link/{token}", methods=["GET", "HEAD"])
    def show_link(request: Request, token: str) -> Response:
        """What the link is for and who it is for, with one button: a GET or HEAD (a mail
        scanner, a preview) changes nothing and audits nothing."""
        found = call(lambda c: links.preview(c, token))
        return page(request, "link.html", link=found, task=describe_task(found.task))

    @app.post("/link/{token}")
    async def open_link(request: Request, token: str) -> Response:
        """The button: the link's owner uses it (same-origin, CSRF-checked), once."""
        await form_of(request)
        grant = await acall(lambda c: links.redeem(c, token))
        person = await acall(lambda c: get_staff(c, grant.staff))
        await run_in_threadpool(sign_in_as, request, grant.staff, grant.task, "link")
        request.session["lang"] = request.session.get("lang") or person.language
        return RedirectResponse(path_of(grant.task), status_code=303)

    @app.get("/signin")
    async def signin(request: Request) -> Response:
        if oauth is None:
            return page(
                request, "message.html", 404, message=texts(language(request))["signin_off"]
            )
        redirect = f"{config.public_url}".rstrip("/") + "/signin/callback"  # never the Host header
        response: Response = await oauth.idp.authorize_redirect(request, redirect)
        return response

    @app.get("/signin/callback", name="signin_callback")
    async def signin_callback(request: Request) -> Response:
        if oauth is None:
            raise Stop(404, texts(language(request))["signin_off"])
        from authlib.integrations.base_client.errors import OAuthError

        try:
            token = await oauth.idp.authorize_access_token(request)
        except OAuthError as exc:
            failed = M("sign-in failed at the identity provider: {error}", error=str(exc.error))
            raise Stop(401, f"sign-in: {exc.error}", words=failed) from exc
        claims = token.get("userinfo") or {}
        email = str(claims.get(config.oidc_email_claim) or "")
        if not email:
            raise Stop(
                401,
                f"sign-in: the identity provider sent no {config.oidc_email_claim}",
                words=M(
                    "sign-in: the identity provider sent no {claim}",
                    claim=config.oidc_email_claim,
                ),
            )
        if claims.get("email_verified") is not True:
            unverified = M("sign-in: the identity provider has not verified this e-mail address")
            raise Stop(401, unverified.msgid, words=unverified)
        person = await acall(lambda c: links.staff_by_email(c, email))
        lang = request.session.get("lang") or person.language
        await run_in_threadpool(sign_in_as, request, person.index_number, None, "oidc")
        request.session["lang"] = lang
        return RedirectResponse("/tasks", status_code=303)

    @app.post("/signout")
    async def signout(request: Request) -> Response:
        await form_of(request)
        sid = request.session.get("sid")
        if isinstance(sid, str):
            await acall(lambda c: access.end(c, sid))
        request.session.clear()
        return RedirectResponse("/verify", status_code=303)

    # ---- my tasks -----------------------------------------------------------------------

    @app.get("/tasks")
    def my_tasks(request: Request, as_of: str | None = None) -> Response:
        who = current(request)
        if who is not None and who.scope:
            return RedirectResponse(path_of(who.scope), status_code=303)
        staff = signed_in(request)
        lang = language(request)
        rows = call(lambda c: obligations.tasks_for(c, staff, lang), as_of)
        for row in rows:
            row["path"] = path_of(row["subject"])
        return page(request, "tasks.html", rows=rows)

    # ---- new-account request (3.2) --------------------------------------------------------

    def _request_raw(form: dict[str, str]) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "entity": form.get("entity", ""),
            "platform": form.get("platform", ""),
            "handle": form.get("handle", ""),
            "languages": [x.strip() for x in form.get("languages", "").split(",") if x.strip()],
            "risk": {},
        }
        for name, _, _ in EVIDENCE:
            head, _, tail = name.partition(".")
            if tail:
                raw["risk"][tail] = form.get(name, "")
            else:
                raw[head] = form.get(name, "")
        return raw

    def _request_form(
        request: Request, staff: str, form: dict[str, str], status: int = 200, **extra: Any
    ) -> HTMLResponse:
        return page(
            request,
            "request_form.html",
            status,
            form=form,
            fields=[name for name, _, _ in EVIDENCE],
            ratings=RISK_RATINGS,
            chart=_chart,
            **extra,
        )

    @app.get("/requests/new")
    def new_request(request: Request) -> Response:
        staff = signed_in(request, "request:new")
        person = call(lambda c: get_staff(c, staff))
        return _request_form(request, staff, {"entity": person.entity_code or ""})

    @app.post("/requests/new")
    async def post_request(request: Request) -> Response:
        await session_of(request)
        staff = signed_in(request, "request:new")
        form = await form_of(request)
        try:
            data = parse_request(_request_raw(form))
        except Refused as exc:
            return _request_form(request, staff, form, 400, error=refusal(exc, language(request)))
        if form.get("action") != "submit":
            try:
                found = await acall(lambda c: requests.preview(c, data, by=staff))
            except Stop as exc:
                return _request_form(
                    request, staff, form, exc.status, error=stop_words(request, exc)
                )
            return _request_form(request, staff, form, preview=found)
        try:
            made = await acall(lambda c: requests.submit(c, data, by=staff))
        except Stop as exc:
            return _request_form(request, staff, form, exc.status, error=stop_words(request, exc))
        assert made.id is not None
        carrier.add(made.id)
        return RedirectResponse(f"/requests/{made.id}?done=submitted", status_code=303)

    # ---- the head's decision (2.1, 3.1(a)) ------------------------------------------------

    @app.get("/requests/{request_id}")
    def show_request(request: Request, request_id: Id) -> Response:
        reader(request, f"request:{request_id}")
        view = call(lambda c: requests.request_view(c, requests.get_request(c, request_id)))
        return page(
            request,
            "request.html",
            r=view,
            chart=_chart,
            done=request.query_params.get("done"),
            decidable=view["state"] in ("submitted", "resubmitted"),
        )

    @app.post("/requests/{request_id}/decide")
    async def decide_request(request: Request, request_id: Id) -> Response:
        await session_of(request)
        staff = signed_in(request, f"request:{request_id}")
        form = await form_of(request)
        decided = await acall(
            lambda c: requests.decide(
                c,
                request_id,
                decision=form.get("decision", ""),
                reason=form.get("reason", ""),
                by=staff,
            )
        )
        carrier.add(request_id)
        return RedirectResponse(
            f"/requests/{request_id}?done={quote(decided.state)}", status_code=303
        )

    # ---- assessment (3.2, 3.3, 3.8) -------------------------------------------------------

    @app.get("/assessments/{assessment_id}")
    def show_assessment(request: Request, assessment_id: Id) -> Response:
        reader(request, f"assessment:{assessment_id}")

        def load(c: Ctx) -> tuple[dict[str, Any], dict[str, Any], str]:
            a = reassessment.get_assessment(c, assessment_id)
            account = accounts.get_account(c, str(a.account_id))
            zone = get_entity(c, account.entity_code).timezone
            return reassessment.assessment_view(c, a), accounts.account_view(c, account), zone

        view, account, zone = call(load)
        return page(
            request,
            "assessment.html",
            a=view,
            account=account,
            timezone=zone,
            decisions=ASSESSMENT_DECISIONS,
            done=request.query_params.get("done"),
        )

    @app.post("/assessments/{assessment_id}/decide")
    async def decide_assessment(request: Request, assessment_id: Id) -> Response:
        await session_of(request)
        staff = signed_in(request, f"assessment:{assessment_id}")
        form = await form_of(request)
        conditions = [x.strip() for x in form.get("conditions", "").splitlines() if x.strip()]

        def act(c: Ctx) -> None:
            a = reassessment.get_assessment(c, assessment_id)
            reassessment.decide(
                c,
                ref=str(a.account_id),
                decision=form.get("decision", ""),
                reason=form.get("reason", ""),
                by=staff,
                conditions=conditions,
            )

        await acall(act)
        return RedirectResponse(f"/assessments/{assessment_id}?done=1", status_code=303)

    # ---- credential custody (4.2) ---------------------------------------------------------

    @app.get("/accounts/{account_id}/custody")
    def show_custody(request: Request, account_id: Id) -> Response:
        reader(request, f"account:{account_id}")
        account = call(lambda c: accounts.account_view(c, accounts.get_account(c, str(account_id))))
        return page(request, "custody.html", account=account, done=request.query_params.get("done"))

    @app.post("/accounts/{account_id}/custody")
    async def attest_custody(request: Request, account_id: Id) -> Response:
        await session_of(request)
        staff = signed_in(request, f"account:{account_id}")
        form = await form_of(request)
        await acall(
            lambda c: custody.attest(
                c, ref=str(account_id), vault_ref=form.get("vault_ref", ""), by=staff
            )
        )
        return RedirectResponse(f"/accounts/{account_id}/custody?done=1", status_code=303)

    # ---- compliance dashboard (3.1(c), 3.4, 2.3) -------------------------------------------

    @app.get("/dashboard")
    def dashboard(
        request: Request, entity: str | None = None, as_of: str | None = None
    ) -> Response:
        staff = signed_in(request)
        code = entity or call(lambda c: get_staff(c, staff)).entity_code
        reader(request, f"entity:{code}")
        report = call(lambda c: reports.compliance(c, entity=code, reader=staff), as_of)
        zone = report["entities"][0]["timezone"] if len(report["entities"]) == 1 else "UTC"
        shown = instant(parse_instant(report["as_of"]), language(request), zone)
        return page(request, "dashboard.html", report=report, chart=_chart, as_of_words=shown)

    # ---- public: is this an official UN account? -------------------------------------------

    @app.get("/verify")
    def verify(request: Request, url: str | None = None) -> Response:
        if not url:
            return page(request, "verify.html", result=None, url="")
        result = call(lambda c: accounts.verify_url(c, url))
        return page(request, "verify.html", result=result, url=url)


def _chart(parity: dict[str, dict[str, bool]]) -> Markup:
    """The language parity chart of the compliance report (escaped SVG built by services)."""
    return Markup(reports.parity_chart(parity))  # noqa: S704 - services.reports escapes every value


def _oauth(config: Settings) -> Any:
    """The OpenID Connect client when the identity provider is configured, else None."""
    if not (config.oidc_issuer and config.oidc_client_id and config.public_url):
        return None  # the redirect URI is built from SMGOV_PUBLIC_URL only
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        name="idp",
        server_metadata_url=config.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=config.oidc_client_id,
        client_secret=(
            config.oidc_client_secret.get_secret_value() if config.oidc_client_secret else None
        ),
        client_kwargs={"scope": "openid email profile"},
    )
    return oauth
