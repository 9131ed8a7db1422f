"""Messages people can act on, in the six official languages (issue 19): complete gettext
catalogs, CLDR dates, one next step per kind of duty, and a reminder to a head of entity in each
language over real SMTP (multipart/alternative, Content-Language, List-Id, stable Message-ID)."""

from __future__ import annotations

import ast
import datetime as dt
import re
import string
import unicodedata
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from sqlalchemy import text as sql

from models.clock import due_after
from models.languages import OFFICIAL_LANGUAGES
from models.platforms import PLATFORMS
from models.settings import Settings
from notifications import i18n, outbox
from notifications.i18n import Day
from notifications.templates import KIND_TITLES
from services import entities, obligations
from services.entities import get_entity
from services.reminders import NEXT_STEP, next_step, queue_due
from services.subjects import Named
from tests.servers import SMTPServer

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {
    "T": (2,),
    "N": (2, 3),
    "M": (1,),
    "MN": (1, 2),
    "R": (1,),
    "W": (1,),
    "WC": ((1, "c"), 2),
    "_": None,
    "gettext": None,
    "C": ((1, "c"), 2),
}


def _catalog(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=i18n.CLDR_LOCALE[lang] if lang else None)


def _ids(catalog: Catalog) -> set[Any]:
    return {m.id for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class TestCatalogs:
    def test_template_matches_the_code(self) -> None:
        """smgov.pot holds exactly the texts the code and templates mark, each in its context
        (scripts/i18n.sh extract): a text added or moved to another context without
        re-extracting fails here."""
        found: set[Any] = set()
        method_map = []
        options: dict[str, dict[str, str]] = {}
        for line in (ROOT / "babel.cfg").read_text().splitlines():
            head = re.match(r"\[(\w+): (.+)\]", line)
            if head:
                method_map.append((head.group(2), head.group(1)))
                options[head.group(2)] = {}
        for _, _, message, _, context in extract_from_dir(
            str(ROOT),
            method_map=method_map,
            options_map=options,
            keywords=KEYWORDS,  # type: ignore[arg-type]  # babel's own keyword spec form
        ):
            found.add((context, message))
        template = {(m.context, m.id) for m in _catalog(i18n.LOCALE_DIR / "smgov.pot") if m.id}
        assert found == template

    @pytest.mark.parametrize("lang", OFFICIAL_LANGUAGES)
    def test_catalog_complete(self, lang: str) -> None:
        """Every message is translated in every official language (2.3), none fuzzy, every
        plural form written, and each translation keeps the message's placeholders."""
        template = _ids(_catalog(i18n.LOCALE_DIR / "smgov.pot"))
        catalog = _catalog(i18n.po_path(lang), lang)
        assert _ids(catalog) == template, "run scripts/i18n.sh update and translate"
        for message in catalog:
            if not message.id:
                continue
            assert not message.fuzzy, f"{lang}: fuzzy {message.id!r}"
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(strings), f"{lang}: untranslated {message.id!r}"
            if isinstance(message.id, tuple):
                assert len(strings) == catalog.num_plurals, f"{lang}: plural forms {ids[0]!r}"
            for text in strings:
                assert _fields(text) <= _fields(ids[-1]), f"{lang}: placeholder in {text!r}"

    def test_fuzzy_or_missing_fails(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The completeness check fails on a catalog with a fuzzy or an empty entry."""
        text = i18n.po_path("fr").read_text()
        broken = text.replace(
            'msgid "due today"\nmsgstr "échéance aujourd\'hui"', 'msgid "due today"\nmsgstr ""', 1
        )
        assert broken != text
        target = tmp_path / "fr" / "LC_MESSAGES" / "smgov.po"
        target.parent.mkdir(parents=True)
        target.write_text(broken)
        (tmp_path / "smgov.pot").write_bytes((i18n.LOCALE_DIR / "smgov.pot").read_bytes())
        monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
        with pytest.raises(AssertionError, match="untranslated"):
            TestCatalogs().test_catalog_complete("fr")


class TestSmgovsOwnWords:
    @pytest.mark.clause("2.3")
    @pytest.mark.parametrize("lang", [lang for lang in OFFICIAL_LANGUAGES if lang != "en"])
    def test_every_finding_and_reason_is_said_in_the_readers_words(self, lang: str) -> None:
        """2.3: every piece of what smgov writes into an assessment (each finding, note and
        recommendation's why, for evidence of every kind: overlaps by purpose and by name,
        holders missing or separated, nothing on file, an incomplete entry, a dormant account)
        is known to the catalogs and shown in the reader's words; the data keep the English."""
        from models.assessment import Evidence, prefill, recommend
        from models.errors import R, Refused
        from models.registry import STAFF_STATUS_WORDS, STAFF_STATUSES
        from models.requests import parse_request
        from models.survey import Candidate, Survey, named
        from notifications.i18n import T
        from smgov.web_texts import WORDS, ref_words, refusal, said

        def account(ref: str, name: str, languages: str, purpose: str) -> Candidate:
            audience = "the general public"
            return Candidate(ref, "UNEP", "x", name, frozenset({languages}), purpose, audience)

        survey = Survey(
            [
                account("account:1", "UNEP news", "en", "news on climate action for the public"),
                account("account:2", "unepnewsroom", "en", "climate news for everyone"),
            ]
        )
        (alike,) = survey.matches([account("account:9", "UN news", "en", "news on climate action")])
        (named_so,) = survey.matches([account("account:8", "unepnewsroom", "fr", "x")])
        matches = [*alike, *named_so]
        overlaps = named(matches)
        assert any("similar name" in o for o in overlaps) and any("audience" in o for o in overlaps)
        full = Evidence(
            "100001",
            "active",
            "100002",
            "active",
            (),
            (),
            10,
            "news",
            "public",
            True,
            True,
            5,
            4.0,
            9,
        )
        cases = [
            full,
            full._replace(overlaps=overlaps, attested_days_ago=None, missing=("3.4(d)", "3.4(c)")),
            full._replace(administrator=None, alternate=None, purpose="", risk_recorded=False),
            full._replace(administrator_status="separated", alternate_status="reassigned"),
            full._replace(editorial_recorded=False, last_post_days_ago=400, posts_per_month=None),
            full._replace(overlaps=overlaps, last_post_days_ago=400, followers=None),
            full._replace(posts_per_month=None, followers=None),
        ]
        written = []
        for evidence in cases:
            findings = prefill(evidence)
            written.extend(f[key] for f in findings.values() for key in ("finding", "note"))
            recommendation, why = recommend(findings)
            assert recommendation in WORDS  # shown by its label on the page
            written.append(why)
        written.extend(m.reason for m in matches)
        for text in written:
            missed: list[str] = []
            shown = said(text, lang, missed)
            assert not missed, (text, missed)
            assert shown != text, text
        assert said("no alternate", "fr") == "aucun suppléant"
        gone = said(prefill(cases[3])["3.2(c)"]["note"], lang)
        assert "separated" not in gone and "reassigned" not in gone, gone  # statuses in words
        refused = Refused(
            "alternate", R("staff member {index} is {status}"), index="6", status="separated"
        )
        assert "separated" not in refusal(refused, lang)  # in refusals too
        with pytest.raises(Refused) as lacking:  # a request lacking two items of evidence
            parse_request({"purpose": "news", "risk": {"rating": "low"}})
        listed = refusal(lacking.value, lang)
        assert T(lang, WORDS["need"]) in listed and T(lang, WORDS["editorial"]) in listed
        assert "demonstrated need" not in listed and "editorial standards" not in listed, listed
        assert {text for _, text in STAFF_STATUS_WORDS} == set(STAFF_STATUSES)  # every one
        assert said("administrator 5 is separated", "de") == "administrator 5 is separated"
        note = said(prefill(full._replace(overlaps=overlaps))["3.2(a)"]["note"], lang)
        assert not re.search(r"\b(account|request|survey):\d", note), note  # refs in words
        assert ref_words("survey:7", lang) != "survey:7"
        active = said("last post 400 days ago, 2.5 posts a month, 12000 followers", lang)
        where = i18n.locale(lang)  # quantities the reader's way: "12 000", "2,5" in French
        assert format_decimal(12000, locale=where) in active, active
        assert format_decimal(2.5, locale=where) in active and "12000" not in active, active
        assert "100001" in said("administrator 100001 is separated", lang)  # an index as it is


class TestDates:
    @pytest.mark.parametrize(
        ("lang", "expected"),
        [
            ("en", "17 March 2026, end of day (Zurich)"),
            ("fr", "17 mars 2026, fin de journée (Zurich)"),
            ("es", "17 de marzo de 2026, al final del día (Zúrich)"),
            ("ru", "17 марта 2026\u202fг., конец дня (Цюрих)"),
            ("ar", "17 مارس 2026، نهاية اليوم (زيورخ)"),
            ("zh", "2026年3月17日当日结束时（苏黎世）"),
        ],
    )
    def test_due_day_in_the_readers_language(self, lang: str, expected: str) -> None:
        """A due day is the date in the reader's language and the entity's place (CLDR)."""
        assert i18n.render(Day(dt.date(2026, 3, 17), "Europe/Zurich"), lang) == expected


CLAUSE = re.compile(r"^\d\.\d+(\([a-z]\))?$")


def _obligation_kinds() -> set[str]:
    """Every kind of duty the services open: `kind="..."` beside an `assignee=`, or a
    (clause, kind) pair such as `("3.6", "update-entry")`."""
    kinds: set[str] = set()
    for path in (ROOT / "services").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                words = {k.arg: k.value for k in node.keywords if k.arg}
                kind = words.get("kind")
                if "assignee" in words and isinstance(kind, ast.Constant):
                    kinds.add(str(kind.value))
            if isinstance(node, ast.Tuple) and len(node.elts) >= 2:
                first, second = node.elts[0], node.elts[1]
                if (
                    isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and CLAUSE.match(first.value)
                    and isinstance(second, ast.Constant)
                    and isinstance(second.value, str)
                    and re.fullmatch(r"[a-z]+(-[a-z]+)+", second.value)
                ):
                    kinds.add(second.value)
    return kinds


PLACEHOLDER = re.compile(r"\b(ENTITY|ACCOUNT|INDEX|YOUR_INDEX|HEAD|ID)\b|\{|account:\d")


class TestNextStep:
    def test_every_kind_has_a_title_and_a_next_step(self) -> None:
        """A kind of duty without its own title or next step fails here (no generic line)."""
        kinds = _obligation_kinds()
        assert len(kinds) >= 13
        assert kinds <= set(NEXT_STEP), f"no next step for {kinds - set(NEXT_STEP)}"
        assert kinds <= set(KIND_TITLES), f"no title for {kinds - set(KIND_TITLES)}"

    @pytest.mark.parametrize("kind", sorted(NEXT_STEP))
    def test_command_filled_with_real_values(self, kind: str) -> None:
        """Each kind's next step names the exact command with the duty's own account, request,
        entity, obligation and acting person — never a placeholder — in every language."""
        subject = Named("X UN — https://x.com/UN", account_id=15, request_id=7)
        step = next_step(
            kind, obligation=42, subject=subject, entity="OHCHR", by="100002", head="100001"
        )
        command = dict(step.params)["command"]
        assert command.startswith("smgov ") and not PLACEHOLDER.search(command), command
        assert re.search(r"\b(15|7|OHCHR|42)\b", command) or kind == "inventory-campaign"
        for lang in OFFICIAL_LANGUAGES:
            text = i18n.render(step, lang)
            assert command in text and "{" not in text

    def test_a_condition_the_registry_team_holds_names_the_heads_command(self) -> None:
        """A condition of continuation on an account nobody holds is the registry team's to
        chase: its next step still names the head who confirms it, with `--by` (before, the
        registry's missing `--by` removed it and left the head's index a stray argument)."""
        subject = Named("X UN — https://x.com/UN", account_id=15)
        step = next_step(
            "assessment-condition", obligation=42, subject=subject, entity="OHCHR", by=None,
            head="100001",
        )  # fmt: skip
        assert dict(step.params)["command"] == "smgov obligation meet 42 --by 100001 --note TEXT"


# -- one reminder to a head of entity in each language, over real SMTP -------------------------

SCRIPT = {
    "ar": lambda ch: "\u0600" <= ch <= "\u06ff",
    "zh": lambda ch: "\u4e00" <= ch <= "\u9fff",
    "ru": lambda ch: "\u0400" <= ch <= "\u04ff",
}
ENGLISH_ONLY = ("days left", "Next step", "You are responsible", "end of day", "registry entry")


def _letters_outside_names(text: str) -> list[str]:
    """The letters of a message's own words: without addresses, commands, and names given."""
    text = re.sub(r"https?://\S+|\S+@\S+|smgov [a-z][^\n;。；،]*|\d\.\d+\(?[a-z]\)", " ", text)
    labels = [p.label for p in PLATFORMS.values()]
    for name in ("Entity", "unhumanrights", "smgov", "Head", *labels):
        text = text.replace(name, " ")
    # acronyms and symbols (OHCHR, CSV, REQ), also between CJK characters (no word boundary)
    text = re.sub(r"(?<![A-Za-z])[A-Z][A-Z0-9/-]+(?![a-z])", " ", text)
    return [ch for ch in text if unicodedata.category(ch).startswith("L")]


def assert_wholly_in(lang: str, text: str) -> None:
    """A text people read is in `lang`: for ar, zh and ru nearly all its own letters are in the
    language's script; for fr and es no English sentence of smgov's own remains."""
    if lang in SCRIPT:
        letters = _letters_outside_names(text)
        foreign = [ch for ch in letters if not SCRIPT[lang](ch)]
        assert len(foreign) <= len(letters) // 50, (
            f"{lang}: {''.join(foreign)[:99]} in {text[:600]}"
        )
    if lang != "en":
        for phrase in ENGLISH_ONLY:
            assert phrase not in text, f"{lang}: English {phrase!r} in {text[:300]}"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


class TestReminderPerLanguage:
    @pytest.mark.clause("2.3")
    @pytest.mark.parametrize("lang", OFFICIAL_LANGUAGES)
    def test_head_reads_the_reminder_in_their_language(
        self,
        lang: str,
        uow: Callable[..., Any],
        engine: Any,
        settings: Settings,
        smtp: SMTPServer,
    ) -> None:
        """A head of entity who reads `lang` gets the reminder wholly in it — subject, text and
        HTML parts — with `Content-Language: lang`, a List-Id and the outbox's Message-ID."""
        with uow(_at("2026-03-01")) as ctx:
            entities.add_entity(
                ctx, code="OHCHR", name="Entity OHCHR", kind="office", timezone="Europe/Zurich"
            )
            entities.add_staff(
                ctx,
                index="100001",
                name="Head",
                email="head@un.example",
                entity="OHCHR",
                language=lang,
            )
            entities.set_head(ctx, code="OHCHR", staff_index="100001")
            obligations.open_obligation(
                ctx,
                key="attest:OHCHR",
                clause="3.1(c)",
                kind="attest-entries",
                subject="entity:OHCHR",
                entity=get_entity(ctx, "OHCHR"),
                assignee="100001",
                due_at=due_after(dt.date(2026, 3, 1), 7, "Europe/Zurich"),
                actor="smgov",
            )
        with uow(_at("2026-03-05")) as ctx:
            assert queue_due(ctx).queued == 1
        wired = settings.model_copy(
            update={"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_tls": "none"}
        )
        sent = outbox.deliver(engine, wired, now=_at("2026-03-05"))
        assert sent.sent == 1
        [mail] = smtp.messages
        message: EmailMessage = mail.headers  # type: ignore[assignment]  # parsed with the default policy
        assert message["Content-Language"] == lang, mail.raw[:1500].decode()
        assert message["List-Id"].startswith("smgov <")
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert plain is not None and html is not None
        text, page = plain.get_content(), html.get_content()
        assert f'lang="{lang}"' in page and (lang != "ar" or 'dir="rtl"' in page)
        assert "smgov entity attest OHCHR --by 100001" in text
        assert "<table" in page and "smgov entity attest OHCHR --by 100001" in page
        with uow(_at("2026-03-05")) as ctx:
            [row] = outbox.list_messages(session=ctx.session)
        assert mail.message_id == row["message_id"]
        assert mail.subject.replace("\u00a0", " ") == row["subject"], "every space kept"
        for part in (mail.subject, text, re.sub(r"<[^>]+>", " ", page)):
            assert_wholly_in(lang, part)
        assert not re.search(r"\d{4}-\d{2}-\d{2}T", text + page)


class TestLaterMessages:
    @pytest.mark.parametrize("lang", OFFICIAL_LANGUAGES)
    def test_plural_message_rendered_for_its_reader(self, lang: str) -> None:
        """A message written once (an alert) and translated per reader keeps its count."""
        from notifications.i18n import MN

        text = i18n.render(MN("{n} duty", "{n} duties", 12), lang)
        assert "12" in text and "{" not in text


def _card_validator() -> Any:
    import json

    from jsonschema import Draft6Validator

    schema = json.loads((ROOT / "tests" / "data" / "adaptive-card-1.5.json").read_text())
    return Draft6Validator(schema)


def _line(**changes: Any) -> Any:
    from notifications.templates import Line

    line = Line(
        clause="3.6",
        kind="update-entry",
        subject="account:15",
        what="X UN — https://x.com/UN",
        entity="DGC",
        entity_name="Department of Global Communications",
        due=Day(dt.date(2026, 3, 17), "America/New_York"),
        days_left=-2,
        role="assignee",
        assignee="Li Wei",
        assignee_role=i18n.M("administrator of the account"),
        next_step=next_step(
            "update-entry", obligation=4, subject=Named("X", account_id=15), entity="DGC", by="1"
        ),
        link=None,
        escalation=(("head", -1),),
        head="Amina Diallo",
    )
    return line._replace(**changes)


class TestTeamsCard:
    @pytest.mark.parametrize("lang", OFFICIAL_LANGUAGES)
    def test_card_valid_against_the_adaptive_card_schema(self, lang: str) -> None:
        """A digest's Teams card is a valid Adaptive Card 1.5 in the reader's language: title,
        facts (account, due day, days left), and an Action.OpenUrl to the task, made absolute
        with the web door's address (left out without one)."""
        import json

        from notifications.cards import resolve, workflows_payload
        from notifications.templates import render_digest

        message = render_digest([_line(), _line(subject="account:9", days_left=3)], lang)
        validator = _card_validator()
        for public_url in ("https://smgov.un.example", None):
            value = resolve(message.card, public_url)
            errors = sorted(validator.iter_errors(value), key=str)
            assert not errors, errors[0]
            assert value["version"] == "1.5" and value["lang"] == lang
            dumped = json.dumps(value, ensure_ascii=False)
            assert i18n.render(Day(dt.date(2026, 3, 17), "America/New_York"), lang) in dumped
            facts = [f for item in value["body"][1:] for f in item["items"][1]["facts"]]
            assert len(facts) == 10
            urls = [a["url"] for a in _actions(value)]
            if public_url:
                assert urls == [  # most urgent first
                    "https://smgov.un.example/accounts/15/custody",
                    "https://smgov.un.example/accounts/9/custody",
                ]
            else:
                assert urls == []
            payload = workflows_payload(value)
            assert payload["attachments"][0]["contentType"] == (
                "application/vnd.microsoft.card.adaptive"
            )

    def test_schema_rejects_a_broken_card(self) -> None:
        """The schema check is real: an Action.OpenUrl without its url is refused."""
        from notifications.cards import resolve
        from notifications.templates import render_digest

        value = resolve(render_digest([_line()], "en").card, "https://smgov.un.example")
        [action] = _actions(value)
        del action["url"]
        assert list(_card_validator().iter_errors(value))


def _actions(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.OpenUrl":
            found.append(node)
        for value in node.values():
            found.extend(_actions(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_actions(value))
    return found


class TestHonestEscalation:
    @pytest.mark.parametrize("registry", ["registry@un.example", None])
    def test_registry_named_only_when_it_is_told(
        self, registry: str | None, uow: Callable[..., Any], engine: Any, settings: Settings
    ) -> None:
        """A line says the registry team is or will be told only when a registry address is
        configured; the head of entity is named in the escalation only when reachable."""
        from services.context import unit_of_work

        with uow(_at("2026-03-01")) as ctx:
            entities.add_entity(
                ctx, code="OHCHR", name="Entity OHCHR", kind="office", timezone="Europe/Zurich"
            )
            for index, name in (("100001", "Head"), ("100002", "Admin")):
                entities.add_staff(
                    ctx, index=index, name=name, email=f"{index}@un.example", entity="OHCHR"
                )
            entities.set_head(ctx, code="OHCHR", staff_index="100001")
            obligations.open_obligation(
                ctx,
                key="meet:1",
                clause="3.2",
                kind="assessment-condition",
                subject="entity:OHCHR",
                entity=get_entity(ctx, "OHCHR"),
                assignee="100002",
                due_at=due_after(dt.date(2026, 3, 1), 7, "Europe/Zurich"),
                actor="smgov",
            )
        configured = settings.model_copy(update={"registry_email": registry})
        with unit_of_work(engine, configured, _at("2026-03-05")) as ctx:
            report = queue_due(ctx)
            assert report.registry_configured is (registry is not None)
            bodies = [m["subject"] for m in outbox.list_messages(session=ctx.session)]
            text = "\n".join(ctx.session.execute(sql("SELECT body FROM outbox")).scalars())
        assert bodies and "the head of entity (Head) will be told in 4 days" in text
        assert ("registry team will be told" in text) is (registry is not None)


def _backlog(count: int) -> list[Any]:
    """`count` overdue duties of one recipient over 30 entities (E00..E29): duty i is about
    account i + 1, in entity i % 30, and 14 + i days overdue (the last the most urgent)."""
    return [
        _line(
            subject=f"account:{i + 1}",
            what=f"X UN{i} — https://x.com/UN{i}",
            entity=f"E{i % 30:02d}",
            entity_name=f"Entity E{i % 30:02d}",
            days_left=-14 - i,
            role="registry",
            assignee="",
            assignee_role=i18n.M("registry team"),
            escalation=(),
        )
        for i in range(count)
    ]


def _listed(part: str) -> list[int]:
    """The duties a digest part lists, in its order (by the account address of each)."""
    return [int(n) for n in re.findall(r"https://x\.com/UN(\d+)", part)]


#: What a registry officer reads after the 200 most urgent of 260 duties: the count of the rest,
#: the first entity of the summary (E29: its duties 29 and 59, the latter 73 days overdue), the
#: entities beyond the 20 named summed, and the first entity's command filled in.
CAPPED = {
    "en": (
        "… and 60 more duties, by entity, most urgent first:",
        "Entity E29 (E29): 2 duties (most urgent: 73 days overdue)",
        "… and 10 other entities: 20 duties",
    ),
    "ar": (
        "… و60 واجبًا آخر، حسب الكيان، بدءًا بالأكثر إلحاحًا:",
        "Entity E29 (E29): واجبان (الأكثر إلحاحًا: متأخر 73 يومًا)",
        "… و10 كيانات أخرى: 20 واجبًا",
    ),
    "zh": (
        "……另有 60 项职责，按实体列出，最紧急的在前：",
        "Entity E29（E29）：2 项职责（最紧急的：已逾期 73 天）",
        "……另有 10 个实体：20 项职责",
    ),
}


class TestDigestCap:
    @pytest.mark.parametrize("lang", sorted(CAPPED))
    def test_long_digest_lists_the_most_urgent_then_counts_the_rest_by_entity(
        self, lang: str
    ) -> None:
        """A digest of 260 duties (the registry team's, escalated from a whole system) lists the
        200 most urgent — exactly those, most urgent first, in the text and the HTML part — then
        how many more there are, by entity (the entity with the most urgent duty first, at most
        20 named, the others summed) and the commands that list them all; the subject still
        counts every duty, and every word is in the reader's language."""
        from notifications.templates import DIGEST_MAX_LINES, render_digest

        assert DIGEST_MAX_LINES == 200 == Settings.model_fields["digest_max_lines"].default
        message = render_digest(_backlog(260), lang)
        most_urgent = list(range(259, 59, -1))
        page = message.html.split("<main>")[1]  # the subject is the page's <title>
        assert _listed(message.text) == most_urgent
        assert _listed(page) == most_urgent
        assert len(re.findall(r"^\d+\. \[3\.6\]", message.text, re.M)) == 200
        assert page.count('<tr style="vertical-align: top;">') == 200
        heading, first, others = CAPPED[lang]
        pointer = ("smgov report compliance", "smgov obligation list --entity E29 --state open")
        for part in (message.text, page):
            assert heading in part and first in part and others in part
            assert all(command in part for command in pointer)
        summary = message.text.split(heading)[1]
        named = re.findall(r"E(\d\d) \(|E(\d\d)（", summary)
        assert [int(a or b) for a, b in named] == list(range(29, 9, -1)), "most urgent first"
        assert page.count("<li>") == 21
        assert i18n.render(i18n.MN("{n} duty", "{n} duties", 260), lang) in message.subject
        if lang != "en":
            for part in (message.subject, message.text, re.sub(r"<[^>]+>", " ", page)):
                assert_wholly_in(lang, part)

    def test_where_to_see_them_all_is_real_commands(self) -> None:
        """The commands a long digest names to see every duty are smgov's own, with options it
        takes (parsed by the real command line, not run)."""
        import shlex

        import typer
        from typer.core import TyperGroup

        from notifications.templates import render_digest
        from smgov.cli import app

        text = render_digest(_backlog(260), "en").text
        found = re.findall(r"smgov (?:report|obligation) [^(]+?(?= \()", text)
        assert found == [
            "smgov report compliance",
            "smgov obligation list --entity E29 --state open",
        ]
        for line in found:
            command, words = typer.main.get_command(app), shlex.split(line)[1:]
            while isinstance(command, TyperGroup):
                command = command.commands[words.pop(0)]
            command.make_context(line, words)  # an unknown command or option raises

    @pytest.mark.parametrize("lang", ["en", "ar"])
    def test_short_digest_unchanged(self, lang: str) -> None:
        """A digest of up to 200 duties lists every one, and says nothing of more duties nor of
        where to see them: it is the digest without any cap."""
        from notifications.templates import render_digest

        for count in (3, 200):
            lines = _backlog(count)
            message = render_digest(lines, lang)
            assert message == render_digest(lines, lang, limit=1_000_000)
            assert _listed(message.text) == list(range(count - 1, -1, -1))
            assert "smgov report compliance" not in message.text + message.html
            assert "<section" not in message.html

    def test_sweep_caps_by_the_setting(
        self, uow: Callable[..., Any], engine: Any, settings: Settings
    ) -> None:
        """The sweep lists in each digest at most `SMGOV_DIGEST_MAX_LINES` duties: with 1, an
        assignee of two overdue duties reads the more urgent, then that one more is left."""
        from services.context import unit_of_work

        _two_duties(uow)
        capped = settings.model_copy(update={"digest_max_lines": 1})
        with unit_of_work(engine, capped, _at("2026-03-20")) as ctx:
            assert queue_due(ctx).lines == 3  # and the one 16 days overdue to the registry team
            [body] = ctx.session.execute(
                sql("SELECT body FROM outbox WHERE recipient = 'a@un.example'")
            ).scalars()
        assert len(re.findall(r"^\d+\. \[3\.2\]", body, re.M)) == 1
        assert "smgov obligation meet 2 --by HEAD" in body, "the more urgent: due first"
        assert "… and 1 more duty, by entity, most urgent first:" in body
        assert "Entity OHCHR (OHCHR): 1 duty (most urgent: 12 days overdue)" in body

    def test_capped_digest_links_only_the_lines_it_lists(
        self, uow: Callable[..., Any], engine: Any, settings: Settings
    ) -> None:
        """With the web door on and a digest capped at one line, the assignee of two duties gets
        one link, in the line listed: no link token is issued for the line left out."""
        from services.context import unit_of_work

        _two_duties(uow)
        capped = settings.model_copy(
            update={"digest_max_lines": 1, "public_url": "https://smgov.un.example/"}
        )
        with unit_of_work(engine, capped, _at("2026-03-20")) as ctx:
            queue_due(ctx)
            [body] = ctx.session.execute(
                sql("SELECT body FROM outbox WHERE recipient = 'a@un.example'")
            ).scalars()
            tokens = ctx.session.execute(
                sql("SELECT nonce FROM link_token WHERE staff_index = '100002'")
            ).scalars()
            issued = list(tokens)
        assert len(re.findall(r"^\d+\. \[3\.2\]", body, re.M)) == 1
        assert re.findall(r"\{smgov-link:([^}]+)\}", body) == issued and len(issued) == 1


def _two_duties(uow: Callable[..., Any]) -> None:
    """OHCHR, its staff member 100002 (a@un.example) and two 3.2 duties of theirs, due on 8
    and 4 March 2026."""
    with uow(_at("2026-03-01")) as ctx:
        entities.add_entity(
            ctx, code="OHCHR", name="Entity OHCHR", kind="office", timezone="Europe/Zurich"
        )
        entities.add_staff(ctx, index="100002", name="Admin", email="a@un.example", entity="OHCHR")
        for key, days in (("meet:1", 7), ("meet:2", 3)):
            obligations.open_obligation(
                ctx,
                key=key,
                clause="3.2",
                kind="assessment-condition",
                subject="entity:OHCHR",
                entity=get_entity(ctx, "OHCHR"),
                assignee="100002",
                due_at=due_after(dt.date(2026, 3, 1), days, "Europe/Zurich"),
                actor="smgov",
            )
