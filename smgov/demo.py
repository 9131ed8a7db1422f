"""`smgov demo`: the whole story on a small fictional organization, in its own home and database.

Every process runs through its Prefect flow at simulated dates (`--as-of` throughout), and the
narrative is read back from the database and the outbox after each step — nothing is written out
in advance. Messages go to the local mail folder under the demo's home unless SMTP is configured.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from models.errors import Refused

ISSUANCE = dt.date(2026, 1, 15)
ENTITIES = (
    ("DGC", "Department of Global Communications", "department", "America/New_York"),
    ("OHCHR", "Office of the High Commissioner for Human Rights", "office", "Europe/Zurich"),
    (
        "ESCAP",
        "Economic and Social Commission for Asia and the Pacific",
        "regional-commission",
        "Asia/Bangkok",
    ),
    ("UNMISS", "United Nations Mission in South Sudan", "peacekeeping-mission", "Africa/Juba"),
)
STAFF = (  # index, name, entity, language, role
    ("100001", "Amina Diallo", "DGC", "fr", "head"),
    ("100002", "Li Wei", "DGC", "zh", ""),
    ("100003", "Carlos Rivera", "DGC", "es", ""),
    ("200001", "Ingrid Solberg", "OHCHR", "en", "head"),
    ("200002", "Omar Haddad", "OHCHR", "ar", ""),
    ("200003", "Claire Dubois", "OHCHR", "fr", ""),
    ("200004", "Nadia Petrova", "OHCHR", "ru", ""),
    ("300001", "Somchai Prasert", "ESCAP", "en", "head"),
    ("300002", "Mei Tanaka", "ESCAP", "en", ""),
    ("300003", "Arjun Mehta", "ESCAP", "en", ""),
    ("400001", "Grace Akol", "UNMISS", "en", "head"),
    ("400002", "John Deng", "UNMISS", "en", ""),
    ("400003", "Sara Lado", "UNMISS", "ar", ""),
)
INVENTORY = (  # entity, platform, handle, url, languages, purpose, audience, admin, alternate
    (
        "DGC",
        "x",
        "UN",
        "x.com/UN",
        "en;fr;es;ar;zh;ru",
        "News of the United Nations",
        "Global public",
        "100002",
        "100003",
    ),
    (
        "DGC",
        "youtube",
        "unitednations",
        "youtube.com/@unitednations",
        "en",
        "Videos of UN meetings and stories",
        "Global public",
        "100002",
        "100003",
    ),
    (
        "DGC",
        "flickr",
        "unphoto",
        "flickr.com/photos/unphoto",
        "en",
        "UN photo archive",
        "Media and researchers",
        "100003",
        "100002",
    ),
    (
        "OHCHR",
        "x",
        "UNHumanRights",
        "x.com/UNHumanRights",
        "en;fr",
        "Human rights news and statements",
        "General public",
        "200002",
        "200003",
    ),
    (
        "OHCHR",
        "x",
        "UNHumanRightsAR",
        "x.com/UNHumanRightsAR",
        "ar",
        "Human rights news and statements in Arabic",
        "Arabic-speaking public",
        "200002",
        "",
    ),
    (
        "ESCAP",
        "linkedin",
        "unescap",
        "linkedin.com/company/unescap",
        "en",
        "Sustainable development in Asia and the Pacific",
        "Policy makers",
        "300002",
        "300003",
    ),
    (
        "UNMISS",
        "facebook",
        "unmiss",
        "facebook.com/unmiss",
        "en;ar",
        "Peacekeeping news from South Sudan",
        "South Sudanese public",
        "400002",
        "",
    ),
    (
        "UNMISS",
        "x",
        "unmissmedia",
        "x.com/unmissmedia",
        "en",
        "Press releases of the mission",
        "Journalists",
        "400002",
        "400003",
    ),
)


class Story:
    """Runs the steps and tells what each one did, read back from the database."""

    def __init__(self, home: Path) -> None:
        from database import make_engine
        from models.settings import Settings

        self.settings = Settings()
        self.engine = make_engine(self.settings.resolved_database_url)
        self.seen_outbox = 0
        self.tty = sys.stdout.isatty()

    def say(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def chapter(self, day: str, title: str) -> None:
        self.say()
        self.say(f"== {day} — {title}")

    def at(self, day: str) -> Any:
        from models.clock import parse_instant
        from services.context import unit_of_work

        return unit_of_work(self.engine, self.settings, parse_instant(day))

    def messages(self, limit: int = 8) -> None:
        """The messages written since the last call, as a reader of the outbox sees them."""
        from sqlalchemy import select
        from sqlmodel import col

        from models.tables import Outbox

        with self.at("2026-01-01") as ctx:
            rows = list(
                ctx.session.execute(
                    select(Outbox).where(col(Outbox.id) > self.seen_outbox).order_by(col(Outbox.id))
                ).scalars()
            )
        for row in rows[:limit]:
            self.say(f"   ✉ {row.channel:5} to {row.recipient:<30} [{row.status}] {row.subject}")
        if len(rows) > limit:
            self.say(f"   … and {len(rows) - limit} more messages")
        if rows:
            self.seen_outbox = int(rows[-1].id or 0)

    def sweep(self, day: str) -> None:
        from flows.reminders import reminders

        summary = reminders(as_of=f"{day}T12:00:00Z")
        self.say(
            f"   sweep: {summary['obligations']} obligations reminded, {summary['sent']} "
            f"messages sent, {summary['failed']} failed"
        )
        self.messages()


def _rows(entity: str) -> Callable[[], Iterator[tuple[int, dict[str, Any]]]]:
    from services.importer import COLUMNS

    def read() -> Iterator[tuple[int, dict[str, Any]]]:
        number = 1
        for row in INVENTORY:
            if row[0] == entity:
                number += 1
                yield number, dict(zip(COLUMNS, (*row, "2020-03-01"), strict=True))

    return read


def _prepare(home: Path) -> None:
    """The demo's own home and database; never the configured one; refuses one in use."""
    from sqlalchemy import inspect, text

    from database import make_engine

    home.mkdir(parents=True, exist_ok=True)
    database = home / "smgov.db"
    if database.exists():
        engine = make_engine(f"sqlite:///{database}")
        try:
            tables = inspect(engine).get_table_names()
            used = (
                "entity" in tables
                and engine.connect().execute(text("SELECT count(*) FROM entity")).scalar()
            )
        finally:
            engine.dispose()
        if used:
            raise Refused(
                "--home", f"{home} already holds an smgov database with data; give an empty folder"
            )
    os.environ["SMGOV_HOME"] = str(home)
    os.environ["SMGOV_DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["SMGOV_ISSUANCE_DATE"] = ISSUANCE.isoformat()
    os.environ.setdefault("SMGOV_REGISTRY_EMAIL", "registry@dgc.un.example")
    os.environ.setdefault("SMGOV_SECURITY_EMAIL", "dss@un.example")
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def run_demo(home_text: str) -> None:
    home = Path(home_text).expanduser().resolve()
    _prepare(home)
    from database import make_engine, upgrade

    engine = make_engine(os.environ["SMGOV_DATABASE_URL"])
    upgrade(engine)
    engine.dispose()
    from flows.common import quiet_heartbeat

    with quiet_heartbeat():
        _story(Story(home))
    smgov = _command()
    sys.stdout.write(f"""
Explore what the demo left (its own SQLite database and mail folder in {home}):
  SMGOV_HOME={home} {smgov} account list
  SMGOV_HOME={home} {smgov} obligation list --as-of 2026-06-05
  SMGOV_HOME={home} {smgov} report compliance --as-of 2026-06-05
  SMGOV_HOME={home} {smgov} outbox list          (messages: {home / "mail" / "new"})
  SMGOV_HOME={home} {smgov} audit verify
(unset SMGOV_DATABASE_URL first if you have set it; 'source .venv/bin/activate' puts smgov on
your PATH)
""")


def _command() -> str:
    """How to run smgov from this shell, as the hints print it: `smgov` when it is on the PATH,
    else the script beside this Python (a virtual environment not activated), else `python -m`."""
    import shlex
    import shutil

    found = shutil.which("smgov")
    if found and Path(found).resolve() == (Path(sys.executable).parent / "smgov").resolve():
        return "smgov"
    beside = Path(sys.executable).parent / "smgov"
    if beside.exists():
        return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m smgov.cli"


def _story(story: Story) -> None:
    from flows.approval import approval
    from flows.inventory import inventory
    from flows.reassessment import reassessment
    from flows.separation import separation
    from models.clock import parse_instant
    from models.hr import parse_event
    from models.requests import parse_request
    from notifications.i18n import due_words
    from services import accounts, custody, entities, importer, reports, requests
    from services import reassessment as reassess
    from services import separation as hr
    from services.reminders import queue_due

    say = story.say
    say(
        "smgov demo — the Secretary-General's bulletin 'Institutional use of social media', "
        f"issued {ISSUANCE.isoformat()}, applied to a fictional Secretariat."
    )

    story.chapter("2026-01-10", "the registry: four entities in four timezones")
    with story.at("2026-01-10") as ctx:
        for code, name, kind, tz in ENTITIES:
            entities.add_entity(ctx, code=code, name=name, kind=kind, timezone=tz)
        for index, name, entity, lang, role in STAFF:
            first = name.split()[0].lower()
            entities.add_staff(
                ctx,
                index=index,
                name=name,
                entity=entity,
                language=lang,
                email=f"{first}.{entity.lower()}@un.example",
            )
            if role == "head":
                entities.set_head(ctx, code=entity, staff_index=index)
        for view in entities.list_entities(ctx):
            say(f"   {view['code']:7} {view['kind']:28} {view['timezone']:18} head {view['head']}")
        entities.appoint(ctx, code="OHCHR", staff_index="200003", role="delegate", by="200001")
        say("   OHCHR's head names Claire Dubois (200003) data-entry delegate (3.1(c))")

    story.chapter("2026-01-16", "the 60-day inventory opens (3.4)")
    summary = inventory(issued_on=ISSUANCE.isoformat(), as_of="2026-01-16T12:00:00Z")
    say(f"   {summary['opened']} campaigns opened; heads notified")
    with story.at("2026-01-16") as ctx:
        for c in reports.compliance(ctx)["entities"]:
            due = parse_instant(c["campaigns"][0]["due_at"])
            say(f"   {c['code']:7} inventory due {due_words(due, c['timezone'])}")
    story.messages()

    story.chapter("2026-01-20", "entities import their existing accounts")
    for code, by in (("DGC", "100001"), ("OHCHR", "200003"), ("UNMISS", "400001")):
        with story.at("2026-01-20") as ctx:
            report = importer.import_accounts(ctx, read=_rows(code), by=by, entity=code)
        who = "its delegate 200003" if by == "200003" else f"its head {by}"
        say(
            f"   {code:7} {report.imported} accounts imported by {who}, {report.incomplete} "
            "incomplete (no alternate: 3.4(d)); the people named are declared, not authorized"
        )
    say("   ESCAP has not imported yet")
    with story.at("2026-01-22") as ctx:
        for code, head, ref in (
            ("DGC", "100001", "DGC/SM/2026/01"),
            ("OHCHR", "200001", "OHCHR/SM/2026/02"),
            ("UNMISS", "400001", "UNMISS/PIO/2026/03"),
        ):
            grants = accounts.authorize_declared(ctx, ref=None, entity=code, by=head, reference=ref)
            say(
                f"   2026-01-22: {code}'s head authorizes the {len(grants)} declared people in "
                f"writing (smgov authorize --entity {code} --declared, {ref}): 3.7; each owes "
                "a 4.1 acknowledgement"
            )

    story.chapter("2026-03-09", "a week before the deadline: reminders")
    story.sweep("2026-03-09")
    with story.at("2026-03-10") as ctx:
        accounts.authorize(
            ctx,
            ref="x.com/UNHumanRightsAR",
            staff="200004",
            role="alternate",
            by="200001",
            reference="OHCHR/SM/2026/07",
        )
    say(
        "   2026-03-10: OHCHR authorizes an alternate for its Arabic account: its inventory "
        "is complete"
    )
    with story.at("2026-03-17") as ctx:
        report = importer.import_accounts(ctx, read=_rows("ESCAP"), by="300001", entity="ESCAP")
        accounts.authorize_declared(
            ctx, ref=None, entity="ESCAP", by="300001", reference="ESCAP/CIS/2026/04"
        )
    say(
        f"   2026-03-17: ESCAP imports {report.imported} account, a day after its deadline, "
        "and its head authorizes the declared people"
    )

    story.chapter("2026-03-18", "the deadline passes (16 March, entities' local time)")
    story.sweep("2026-03-18")
    with story.at("2026-03-18") as ctx:
        for c in reports.compliance(ctx)["entities"]:
            outcome = c["campaigns"][0]["outcome"] if c["campaigns"] else None
            say(
                f"   {c['code']:7} inventory {outcome}: {c['complete']} complete, "
                f"{c['incomplete']} incomplete"
            )

    story.chapter(
        "2026-04-01", "a new account is requested (3.2) — and the survey finds a duplicate"
    )
    request = parse_request(
        {
            "entity": "OHCHR",
            "platform": "x",
            "handle": "UNRightsArabic",
            "languages": ["ar"],
            "need": "Treaty-body news in Arabic",
            "purpose": "Human rights news in Arabic",
            "strategy": "Daily posts",
            "audience": "Arabic-speaking public",
            "staffing": "Two officers",
            "administrator": "200002",
            "alternate": "200004",
            "risk": {"rating": "medium", "risks": "Impersonation", "mitigations": "Verification"},
            "editorial": "The chief of communications clears every post",
            "languages_considered": "Arabic first; French and Spanish next",
            "speaks_for": "entity",
        }
    )
    with story.at("2026-04-01") as ctx:
        made = requests.submit(ctx, request, by="200003")
    approval(request_id=int(made.id or 0), as_of="2026-04-01T12:00:00Z")
    with story.at("2026-04-01") as ctx:
        view = requests.request_view(ctx, requests.get_request(ctx, int(made.id or 0)))
    for dup in view["duplicates"]:
        say(f"   survey: {dup['account']} ({dup['owner']}) score {dup['score']}: {dup['reason']}")
    story.messages()
    with story.at("2026-04-02") as ctx:
        requests.decide(
            ctx,
            int(made.id or 0),
            decision="approve",
            by="200001",
            reason="Treaty bodies need their own Arabic voice; the general Arabic account stays",
        )
    approval(request_id=int(made.id or 0), as_of="2026-04-02T12:00:00Z")
    with story.at("2026-04-02") as ctx:
        account_id = requests.get_request(ctx, int(made.id or 0)).account_id
    say(
        f"   2026-04-02: approved by the head; account {account_id} awaits creation; written "
        "authorizations REQ-1 issued (3.7)"
    )
    story.messages()
    for day, step in (
        ("2026-04-03", "acknowledge"),
        ("2026-04-05", "created"),
        ("2026-04-06", "custody"),
    ):
        with story.at(day) as ctx:
            if step == "acknowledge":
                for index in ("200002", "200004"):
                    requests.acknowledge(ctx, ref=str(account_id), by=index)
            elif step == "created":
                requests.created(
                    ctx,
                    ref=str(account_id),
                    handle="UNRightsArabic",
                    url="x.com/UNRightsArabic",
                    created_on=dt.date(2026, 4, 5),
                    by="200002",
                )
            else:
                custody.attest(
                    ctx, ref=str(account_id), vault_ref="vault:kv/ohchr/x-ar", by="200002"
                )
                state = accounts.get_account(ctx, str(account_id)).state
        say(
            f"   {day}: {step} — account {account_id} is "
            f"{'active' if step == 'custody' and state == 'active' else 'not yet active'}"
        )

    story.chapter("2026-05-04", "reassessment (3.2, 3.3): a dormant account is withdrawn (3.8)")
    with story.at("2026-05-03") as ctx:
        reassess.import_activity(
            ctx,
            [
                (
                    2,
                    {
                        "account": "flickr.com/photos/unphoto",
                        "last_post": "2025-06-30",
                        "posts_per_month": "0",
                        "followers": "2100",
                    },
                )
            ],
        )
    opened = reassessment(as_of="2026-05-04T12:00:00Z", entity="DGC", on_demand=True)
    say(
        f"   campaign opened for DGC: {opened['assessments']} new assessments, {opened['kept']} "
        "accounts keep their open initial (3.3) assessment, now pre-filled"
    )
    with story.at("2026-05-04") as ctx:
        for a in reassess.list_assessments(ctx, entity="DGC"):
            say(
                f"   assessment {a['id']} of account {a['account']}: recommends "
                f"{a['recommendation']} — {a['why']}"
            )
    story.messages()
    with story.at("2026-05-06") as ctx:
        reassess.decide(
            ctx,
            ref="flickr.com/photos/unphoto",
            decision="withdraw",
            by="100001",
            reason="Dormant for ten months; the archive lives on the UN website",
        )
        for ref in ("x.com/UN", "youtube.com/@unitednations"):
            reassess.decide(
                ctx, ref=ref, decision="continue", by="100001", reason="Core channel, effective"
            )
    with story.at("2026-05-20") as ctx:
        reassess.closed(
            ctx,
            ref="flickr.com/photos/unphoto",
            closed_on=dt.date(2026, 5, 19),
            evidence="Account deleted by Carlos Rivera; albums archived to the records unit",
            by="100001",
        )
        verdict = accounts.verify_url(ctx, "https://www.flickr.com/photos/unphoto/")
    say(
        f"   2026-05-20: closed with evidence; verify says official={verdict['official']}, "
        f"state={verdict['state']}"
    )

    story.chapter("2026-05-25", "approval withdrawn at any time, outside any campaign (3.8)")
    with story.at("2026-05-25") as ctx:
        withdrawn = reassess.withdraw(
            ctx,
            ref="x.com/UNHumanRightsAR",
            reason="Superseded by the treaty bodies' Arabic account; no longer required",
            by="200001",
        )
        verdict = accounts.verify_url(ctx, "x.com/UNHumanRightsAR")
    say(
        f"   OHCHR's head withdraws account {withdrawn.id} (smgov account withdraw): "
        f"authorizations revoked, closure due in 30 days; verify says "
        f"official={verdict['official']}, state={verdict['state']}"
    )

    story.chapter(
        "2026-06-01",
        "a staff member separates (4.2): privileges withdrawn, credentials handed over",
    )
    with story.at("2026-06-01") as ctx:
        hr.record(
            ctx,
            [
                parse_event(
                    {
                        "event_id": "HR-2026-0412",
                        "type": "separation",
                        "staff": "400002",
                        "effective": "2026-06-01",
                    }
                )
            ],
            source="webhook",
        )
    result = separation(as_of="2026-06-01T12:00:00Z", event_id="HR-2026-0412")
    say(
        f"   {result['events']} HR event applied: {result['revoked']} authorizations revoked, "
        f"{result['orphaned']} account orphaned"
    )
    story.messages()
    with story.at("2026-06-02") as ctx:
        queue_due(ctx)
    story.chapter("2026-06-05", "the daily sweep")
    story.sweep("2026-06-05")

    story.chapter("2026-06-05", "compliance (smgov report compliance)")
    with story.at("2026-06-05") as ctx:
        say(reports.as_table(reports.compliance(ctx)).rstrip())
