"""The web door (served by `smgov api` beside the HR intake): pages for heads of entities and staff.

Every action calls the same service functions as the CLI, in the same unit of work, so the
authority rules (only the head or officer-in-charge decides, no self-approval, separated staff
can do nothing) hold identically; this module only authenticates, parses forms and renders.

Sign-in: a one-task link from an e-mail (services.links: single-use, expiring, bound to one staff
member and one task) or OpenID Connect against the organization's identity provider. The session
lives in a signed, HTTP-only cookie (Secure unless `cookie_secure` is off); every form carries a
per-session CSRF token.
"""

from __future__ import annotations

import hmac
import logging
import queue
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.engine import Engine
from starlette.middleware.sessions import SessionMiddleware

from models.assessment import DECISIONS as ASSESSMENT_DECISIONS
from models.clock import parse_instant, system_now
from models.errors import NotAuthorized, Refused
from models.languages import OFFICIAL_LANGUAGES
from models.requests import EVIDENCE, RISK_RATINGS, parse_request
from models.settings import Settings
from notifications.signing import derived, web_key
from services import accounts, custody, links, obligations, reassessment, reports, requests
from services.context import Ctx, run
from services.entities import get_staff
from smgov.web_texts import LANGUAGE_NAMES, best_language, direction, texts

T = TypeVar("T")
log = logging.getLogger("smgov.web")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class Stop(Exception):
    """Ends a request with a page that says why (a refusal, a missing sign-in, a bad form)."""

    def __init__(self, status: int, message: str, *, sign_in: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.sign_in = sign_in


class _Carrier:
    """Runs the approval flow after a submission or a decision, off the request thread, so the
    survey, the head's notice and the authorizations follow as they do after the CLI."""

    def __init__(self) -> None:
        self._queue: queue.Queue[int] = queue.Queue()
        threading.Thread(target=self._loop, name="approval-carrier", daemon=True).start()

    def add(self, request_id: int) -> None:
        self._queue.put(request_id)

    def _loop(self) -> None:
        from flows.approval import approval
        from flows.common import quiet_heartbeat

        while True:
            request_id = self._queue.get()
            try:
                with quiet_heartbeat():
                    approval(request_id=request_id, as_of=None)
            except Exception:  # recorded already; the next run (CLI or sweep) carries it on
                log.exception("the approval flow for request %s could not run now", request_id)


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

    def call(use_case: Callable[[Ctx], T], as_of: str | None = None) -> T:
        """Run a service in its own unit of work at the real time (read pages: `?as_of=`)."""
        try:
            now = parse_instant(as_of, field="as_of") if as_of else system_now()
            return run(engine, config, now, use_case)
        except NotAuthorized as exc:
            raise Stop(403, str(exc)) from exc
        except Refused as exc:
            raise Stop(400, str(exc)) from exc

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

    def page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        lang = language(request)
        return TEMPLATES.TemplateResponse(
            request,
            name,
            {
                "lang": lang,
                "dir": direction(lang),
                "t": texts(lang),
                "languages": LANGUAGE_NAMES,
                "user": request.session.get("staff"),
                "user_name": request.session.get("name"),
                "scope": request.session.get("scope"),
                "csrf": csrf_token(request),
                "oidc": oauth is not None,
                "here": request.url.path,
                **values,
            },
            status_code=status,
        )

    def signed_in(request: Request, task: str | None = None) -> str:
        """The acting staff member; a link session may act on its own task only."""
        staff = request.session.get("staff")
        if not staff:
            raise Stop(401, texts(language(request))["sign_in_needed"], sign_in=True)
        scope = request.session.get("scope")
        if scope is not None and scope != task:
            raise Stop(403, texts(language(request))["other_task"])
        return str(staff)

    async def form_of(request: Request) -> dict[str, str]:
        """The posted form, after its CSRF token is checked."""
        form = await request.form()
        given = str(form.get("csrf") or "")
        expected = str(request.session.get("csrf") or "")
        if not expected or not hmac.compare_digest(given, expected):
            raise Stop(403, texts(language(request))["csrf"])
        return {k: str(v) for k, v in form.items() if isinstance(v, str)}

    @app.exception_handler(Stop)
    async def stopped(request: Request, exc: Stop) -> Response:
        return page(request, "message.html", exc.status, message=exc.message, stop=exc)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/tasks", status_code=303)

    # ---- sign-in ------------------------------------------------------------------------

    @app.get("/link/{token}")
    def open_link(request: Request, token: str) -> Response:
        grant = call(lambda c: links.redeem(c, token))
        person = call(lambda c: get_staff(c, grant.staff))
        request.session.clear()
        request.session.update(
            {
                "staff": grant.staff,
                "name": person.name,
                "scope": grant.task,
                "lang": person.language,
            }
        )
        return RedirectResponse(path_of(grant.task), status_code=303)

    @app.get("/signin")
    async def signin(request: Request) -> Response:
        if oauth is None:
            return page(
                request, "message.html", 404, message=texts(language(request))["signin_off"]
            )
        redirect = str(request.url_for("signin_callback"))
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
            raise Stop(401, f"sign-in: {exc.error}") from exc
        claims = token.get("userinfo") or {}
        email = str(claims.get(config.oidc_email_claim) or "")
        if not email:
            raise Stop(401, f"sign-in: the identity provider sent no {config.oidc_email_claim}")
        person = call(lambda c: links.staff_by_email(c, email))
        lang = request.session.get("lang") or person.language
        request.session.clear()
        request.session.update(
            {"staff": person.index_number, "name": person.name, "scope": None, "lang": lang}
        )
        return RedirectResponse("/tasks", status_code=303)

    @app.post("/signout")
    async def signout(request: Request) -> Response:
        await form_of(request)
        request.session.clear()
        return RedirectResponse("/verify", status_code=303)

    # ---- my tasks -----------------------------------------------------------------------

    @app.get("/tasks")
    def my_tasks(request: Request, as_of: str | None = None) -> Response:
        if request.session.get("scope"):
            return RedirectResponse(path_of(str(request.session["scope"])), status_code=303)
        staff = signed_in(request)
        rows = call(lambda c: obligations.list_obligations(c, state="open", assignee=staff), as_of)
        lang = language(request)
        from notifications.templates import title_of

        for row in rows:
            row["title"] = title_of(row["kind"], lang)
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
        return _request_form(request, staff, {"entity": person.entity_code})

    @app.post("/requests/new")
    async def post_request(request: Request) -> Response:
        staff = signed_in(request, "request:new")
        form = await form_of(request)
        try:
            data = parse_request(_request_raw(form))
        except Refused as exc:
            return _request_form(request, staff, form, 400, error=str(exc))
        if form.get("action") != "submit":
            try:
                found = call(lambda c: requests.preview(c, data))
            except Stop as exc:
                return _request_form(request, staff, form, exc.status, error=exc.message)
            return _request_form(request, staff, form, preview=found)
        try:
            made = call(lambda c: requests.submit(c, data, by=staff))
        except Stop as exc:
            return _request_form(request, staff, form, exc.status, error=exc.message)
        assert made.id is not None
        carrier.add(made.id)
        return RedirectResponse(f"/requests/{made.id}?done=submitted", status_code=303)

    # ---- the head's decision (2.1, 3.1(a)) ------------------------------------------------

    @app.get("/requests/{request_id}")
    def show_request(request: Request, request_id: int) -> Response:
        signed_in(request, f"request:{request_id}")
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
    async def decide_request(request: Request, request_id: int) -> Response:
        staff = signed_in(request, f"request:{request_id}")
        form = await form_of(request)
        decided = call(
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
    def show_assessment(request: Request, assessment_id: int) -> Response:
        signed_in(request, f"assessment:{assessment_id}")

        def load(c: Ctx) -> tuple[dict[str, Any], dict[str, Any]]:
            a = reassessment.get_assessment(c, assessment_id)
            return reassessment.assessment_view(c, a), accounts.account_view(
                c, accounts.get_account(c, str(a.account_id))
            )

        view, account = call(load)
        return page(
            request,
            "assessment.html",
            a=view,
            account=account,
            decisions=ASSESSMENT_DECISIONS,
            done=request.query_params.get("done"),
        )

    @app.post("/assessments/{assessment_id}/decide")
    async def decide_assessment(request: Request, assessment_id: int) -> Response:
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

        call(act)
        return RedirectResponse(f"/assessments/{assessment_id}?done=1", status_code=303)

    # ---- credential custody (4.2) ---------------------------------------------------------

    @app.get("/accounts/{account_id}/custody")
    def show_custody(request: Request, account_id: int) -> Response:
        signed_in(request, f"account:{account_id}")
        account = call(lambda c: accounts.account_view(c, accounts.get_account(c, str(account_id))))
        return page(request, "custody.html", account=account, done=request.query_params.get("done"))

    @app.post("/accounts/{account_id}/custody")
    async def attest_custody(request: Request, account_id: int) -> Response:
        staff = signed_in(request, f"account:{account_id}")
        form = await form_of(request)
        call(
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
        report = call(lambda c: reports.compliance(c, entity=code, reader=staff), as_of)
        return page(request, "dashboard.html", report=report, chart=_chart)

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
    if not (config.oidc_issuer and config.oidc_client_id):
        return None
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
