"""Periodic reassessment (3.2, 3.3) ending in continue, continue with conditions, or
withdraw-and-close (3.8).

The recurrence lives in the data: each entity's next reassessment date, yearly, staggered so that
no week carries more than its share of entities. A campaign opens one assessment per active
account (an account with an open assessment keeps it), pre-filled with what smgov can see itself,
with a recommendation and its reasons. Nothing is decided by default: an unanswered assessment is
escalated to the head and the registry team like any other late duty, and the campaign report
lists it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import IO, Any, NamedTuple

import orjson
from sqlalchemy import func, literal, select, update
from sqlmodel import col

from database import among, chunks, insert_rows, update_rows
from models.assessment import DECISIONS, Evidence, prefill, recommend, stagger, week_start
from models.clock import add_months, due_after, iso, local_date
from models.duties import CUSTODY_DUTIES, met_by
from models.errors import NotFound, R, Refused
from models.languages import split_languages
from models.registry import check_text
from models.survey import Candidate, Overlaps, Survey, named
from models.tables import (
    Account,
    AccountActivity,
    AccountRequest,
    Assessment,
    Authorization,
    Campaign,
    DeclaredPerson,
    Entity,
    Obligation,
    Staff,
)
from services import obligations
from services.accounts import (
    AccountLike,
    account_for,
    account_rows,
    condition_holders,
    get_account,
    missing_for,
    pass_on_custody,
)
from services.audit import write_pending
from services.authority import current_head, heads_of, require
from services.context import Ctx
from services.entities import get_entity, staff_name
from services.requests import candidates

ACTOR = "smgov"
ASSESSMENT = Assessment.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely
CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely


def schedule(ctx: Ctx) -> int:
    """Give every entity without one a staggered next reassessment date (within the year)."""
    unscheduled = list(
        ctx.session.execute(
            select(Entity)
            .where(col(Entity.next_reassessment_on).is_(None))
            .order_by(col(Entity.code))
        ).scalars()
    )
    if not unscheduled:
        return 0
    first = local_date(ctx.now, "UTC") + dt.timedelta(days=7)
    taken: Counter[int] = Counter()
    for day in ctx.session.execute(
        select(col(Entity.next_reassessment_on)).where(
            col(Entity.next_reassessment_on).is_not(None)
        )
    ).scalars():
        if day is not None and first <= day < first + dt.timedelta(weeks=52):
            taken[(day - first).days // 7] += 1
    weeks = stagger([e.code for e in unscheduled], taken)
    for entity in unscheduled:
        entity.next_reassessment_on = week_start(first, weeks[entity.code])
        ctx.session.add(entity)
    ctx.session.flush()
    ctx.audit(
        actor=ACTOR,
        action="reassessment.schedule",
        subject="entities",
        after={
            e.code: e.next_reassessment_on.isoformat()
            for e in unscheduled
            if e.next_reassessment_on
        },
    )
    return len(unscheduled)


def _candidate(account: AccountLike) -> Candidate:
    return Candidate(
        f"account:{account.id}",
        account.entity_code,
        account.platform,
        account.handle,
        frozenset(split_languages(account.languages)),
        account.purpose,
        account.audience,
        account.url,
    )


#: the accounts a reassessment opens (3.2): those in use, or already under reassessment
ASSESSED_STATES = ("active", "under-reassessment")

#: role -> (staff index, staff status) of an account's administrator and alternate (3.7)
Holders = dict[str, tuple[str, str]]


def _scoped(ctx: Ctx, query: Any, account_id: Any, codes: Sequence[str]) -> Any:
    """`query` restricted to the rows of the accounts of the entities `codes`, its `account_id`
    column joined to the account. Not by the accounts' state, which the caller checks: SQLite,
    without statistics, would read every account in that state (all but a few) for each
    batch, not the batch's entities' by their index."""
    return query.join(Account, col(Account.id) == account_id).where(
        among(ctx.session, col(Account.entity_code), codes)
    )


class _Read(NamedTuple):
    """What opening a batch of entities reads before it needs their accounts' survey: the
    accounts it assesses, their open assessments (id, unfilled), and what the evidence of those
    it fills reads (holders with their status, whether their requests put a risk analysis and
    editorial standards on file, activity, the entry's gaps); on SQLite with the connection and
    its `data_version` it was read at (`_version`)."""

    codes: frozenset[str]
    accounts: list[AccountLike]
    kept: dict[int, tuple[int, bool]]
    holders: dict[int, Holders]
    on_file: dict[int, tuple[bool, bool]]  # (risk analysis, editorial standards) on file
    activity: dict[int, tuple[dt.date | None, float | None, int | None]]
    gaps: dict[int, list[str]]
    version: tuple[Any, int] | None


def _version(ctx: Ctx) -> tuple[Any, int] | None:
    """On SQLite, the session's connection and its `PRAGMA data_version`, which changes when
    any other connection commits (never for the connection's own commits): read under the same
    pair, what was read is what the database holds, but for this connection's own writes. On
    PostgreSQL, None: nothing read ahead is ever current."""
    connection = ctx.session.connection()
    if connection.dialect.name != "sqlite":
        return None
    version = connection.exec_driver_sql("PRAGMA data_version").scalar_one()
    return connection.connection.dbapi_connection, int(version)


def _current(ctx: Ctx, read: _Read | None, codes: Collection[str]) -> bool:
    """Whether `read` (a read ahead, `ReadAhead`) is what this transaction would read for the
    entities `codes`: read for them, on SQLite, by this connection, with nothing committed by
    any other since (`_version`). Anything else is read again: on PostgreSQL, always."""
    return (
        read is not None
        and read.version is not None
        and read.codes == frozenset(codes)
        and read.version == _version(ctx)
    )


def _read_batch(ctx: Ctx, codes: Sequence[str]) -> _Read:
    """What `_open_assessments` reads for the entities `codes`, set-based: a few queries per 500
    entities, scoped by the entities, not by the accounts; the holders read once for the
    evidence and for completeness (`missing_for`).

    Of two grants of a role in force the latest speaks for it (3.7: a new authorization
    supersedes the one before), as it does for the entry's completeness."""
    accounts: list[AccountLike] = []
    for chunk in chunks(sorted(codes)):
        accounts.extend(
            account_rows(
                ctx,
                among(ctx.session, col(Account.entity_code), chunk),
                col(Account.state).in_(ASSESSED_STATES),
                dated=False,
            )
        )
    kept: dict[int, tuple[int, bool]] = {}  # account id -> its open assessment, unfilled
    assessed = {a.id for a in accounts}
    for chunk in chunks(sorted(codes)):
        # one query per 500 entities, not per 500 accounts: as a campaign adds assessments
        # batch after batch, PostgreSQL's statistics still see the table as it was, and each
        # lookup by account scanned all of it (17 s of a 100k campaign's 39 s)
        for assessment_id, account_id, unfilled in ctx.session.execute(
            select(
                col(Assessment.id), col(Assessment.account_id), col(Assessment.findings).is_(None)
            )
            .join(Account, col(Account.id) == col(Assessment.account_id))
            .where(
                among(ctx.session, col(Account.entity_code), chunk),
                col(Assessment.state) == "open",
            )
        ):
            if account_id in assessed:
                kept[account_id] = (assessment_id, bool(unfilled))
    filling = [a for a in accounts if a.id not in kept or kept[a.id][1]]
    wanted = {a.id for a in filling}
    holders: dict[int, Holders] = defaultdict(dict)
    on_file: dict[int, tuple[bool, bool]] = {}  # the request's evidence: only what is on file
    activity: dict[int, tuple[dt.date | None, float | None, int | None]] = {}
    declared: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for chunk in chunks(sorted(codes)):
        for account_id, role, index, status in ctx.session.execute(
            _scoped(
                ctx,
                select(
                    col(Authorization.account_id),
                    col(Authorization.role),
                    col(Authorization.staff_index),
                    col(Staff.status),
                ).join(Staff, col(Staff.index_number) == col(Authorization.staff_index)),
                col(Authorization.account_id),
                chunk,
            )
            .where(
                col(Authorization.revoked_at).is_(None),
                col(Authorization.role).in_(("administrator", "alternate")),
            )
            .order_by(col(Authorization.id))
        ):
            if account_id in wanted:
                holders[account_id][role] = (index, status)  # the latest grant speaks (3.7)
        for account_id, text in ctx.session.execute(
            _scoped(
                ctx,
                select(col(AccountRequest.account_id), col(AccountRequest.evidence)),
                col(AccountRequest.account_id),
                chunk,
            ).order_by(col(AccountRequest.id))
        ):
            if account_id in wanted:
                evidence = json.loads(text)
                on_file[account_id] = (
                    bool(evidence.get("risk.risks")),
                    bool(evidence.get("editorial")),
                )
        for account_id, last_post, posts, followers in ctx.session.execute(
            _scoped(
                ctx,
                select(
                    col(AccountActivity.account_id),
                    col(AccountActivity.last_post_on),
                    col(AccountActivity.posts_per_month),
                    col(AccountActivity.followers),
                ),
                col(AccountActivity.account_id),
                chunk,
            )
        ):
            if account_id in wanted:
                activity[account_id] = (last_post, posts, followers)
        for account_id, role, index in ctx.session.execute(
            _scoped(
                ctx,
                select(
                    col(DeclaredPerson.account_id),
                    col(DeclaredPerson.role),
                    col(DeclaredPerson.staff_index),
                ),
                col(DeclaredPerson.account_id),
                chunk,
            )
            .where(col(DeclaredPerson.confirmed_at).is_(None))
            .order_by(col(DeclaredPerson.id))
        ):
            if account_id in wanted:
                declared[account_id].append((role, index))
    granted = {
        account_id: {role: index for role, (index, _) in roles.items()}
        for account_id, roles in holders.items()
    }
    gaps = missing_for(ctx, filling, granted=granted, declared=declared)
    return _Read(frozenset(codes), accounts, kept, holders, on_file, activity, gaps, _version(ctx))


def _evidence(
    ctx: Ctx,
    entities: dict[str, Entity],
    read: _Read,
    accounts: Sequence[AccountLike],
    survey: Survey | None,
    overlaps: Overlaps | Callable[[], Overlaps] | None = None,
) -> dict[int, Evidence]:
    """What smgov can see of each of `accounts` (of `entities`), from what `_read_batch` read
    and the duplication survey of the whole block at once (the first three overlaps, those the
    findings name); `overlaps` when the caller surveyed them already (`overlaps_of`), or a
    callable that waits for them (a survey in a process of its own, `surveyed`); `survey` the
    registry's index, None to build it only if an account was not surveyed."""
    known = (overlaps() if callable(overlaps) else overlaps) or {}
    unsurveyed = [a for a in accounts if a.id not in known]  # e.g. registered since the index
    surveyed = dict(known)
    if unsurveyed:
        survey = survey or registry_survey(ctx)
        found_now = survey.nearest([_candidate(a) for a in unsurveyed], limit=3, skip_self=True)
        surveyed.update((a.id or 0, named(m)) for a, m in zip(unsurveyed, found_now, strict=True))
    days: dict[str, tuple[dt.date, int | None]] = {}  # entity -> (today, attested days ago)
    for code, entity in entities.items():
        today, attested = local_date(ctx.now, entity.timezone), entity.attested_at
        days[code] = (
            today,
            (today - local_date(attested, entity.timezone)).days if attested else None,
        )
    nobody = (None, None)
    found: dict[int, Evidence] = {}
    for account in accounts:
        assert account.id is not None  # loaded from the database
        today, attested_days_ago = days[account.entity_code]
        roles = read.holders.get(account.id, {})
        administrator, administrator_status = roles.get("administrator", nobody)
        alternate, alternate_status = roles.get("alternate", nobody)
        risk_recorded, editorial_recorded = read.on_file.get(account.id, (False, False))
        last_post, posts, followers = read.activity.get(account.id, (None, None, None))
        found[account.id] = Evidence(
            administrator=administrator,
            administrator_status=administrator_status,
            alternate=alternate,
            alternate_status=alternate_status,
            overlaps=surveyed[account.id],
            missing=tuple(read.gaps[account.id]),
            attested_days_ago=attested_days_ago,
            purpose=account.purpose,
            audience=account.audience,
            risk_recorded=risk_recorded,
            editorial_recorded=editorial_recorded,
            last_post_days_ago=(today - last_post).days if last_post else None,
            posts_per_month=posts,
            followers=followers,
        )
    return found


def registry_survey(ctx: Ctx) -> Survey:
    """The duplication survey against every existing and pending account, indexed once: a
    campaign over many entities reuses it from one transaction to the next."""
    return Survey(candidates(ctx))


#: batches surveyed ahead of the one being written: the survey process waits beyond that, so
#: what is held at once stays a few batches' overlaps whatever the registry's size
AHEAD = 2


SURVEYED = "every batch is surveyed"
#: the last line of a Python traceback: the exception's name, a colon, its message
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\w*: ")


class _SurveyProcess:
    """A campaign's duplication survey in a process of its own (`services.survey_process`, run
    as `python -P -m`: no fork of a process that may run threads, no re-import of the caller's
    main module, nothing imported from the working directory; its order and its answers in
    JSON, one line per batch, never pickle), read by a thread that keeps each batch's overlaps
    by its number until the batch asks for them (a batch opening nothing, e.g. on a re-run,
    never asks). Whatever stops the reader (the process failing, or writing anything but its
    answers) fails the batch waiting, with the last line the process wrote to its standard
    error, and stops the process: a campaign never waits for a survey that will not come."""

    def __init__(self, url: str, batches: Sequence[list[str]], timeout: float) -> None:
        self._timeout = timeout
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115  # closed by `close`
        self._proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "services.survey_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
        )
        self._done: dict[int, Overlaps] = {}
        self._failed: str | None = None
        self._next = 0  # the first batch not yet written
        self._ready = threading.Condition()
        assert self._proc.stdin is not None  # piped above
        assert self._proc.stdout is not None  # idem
        self._reader = threading.Thread(
            target=self._read, args=(self._proc.stdout, len(batches)), daemon=True
        )
        try:
            with self._proc.stdin as order:  # the whole order: the process reads it, then works
                order.write(json.dumps({"url": url, "batches": list(batches)}).encode())
        except OSError:
            pass  # the process has stopped already: the reader finds its output ended
        self._reader.start()

    def _read(self, stream: IO[bytes], count: int) -> None:
        stopped = "its output ended"
        try:
            for number in range(count):
                line = stream.readline()
                if not line:
                    return
                found = {int(ref): tuple(named) for ref, named in json.loads(line).items()}
                with self._ready:
                    self._ready.wait_for(functools.partial(self._room_for, number))
                    if number >= self._next:
                        self._done[number] = found
                    self._ready.notify_all()
            stopped = SURVEYED
        except Exception as exc:  # anything but its answers: the survey cannot be trusted
            stopped = f"it wrote what is not a survey ({type(exc).__name__})"
        finally:
            if stopped != SURVEYED and self._proc.poll() is None:
                self._proc.kill()  # it wrote too little or nonsense: nothing more is read
            with self._ready:
                self._failed = stopped
                self._ready.notify_all()

    def _room_for(self, number: int) -> bool:
        return number < self._next + AHEAD

    def _answered(self, number: int) -> bool:
        return number in self._done or self._failed is not None

    def ready(self, number: int) -> bool:
        """Whether batch `number`'s overlaps (or the survey's failure) have come: `overlaps`
        would not wait."""
        with self._ready:
            return self._answered(number)

    def overlaps(self, number: int) -> Overlaps:
        """Batch `number`'s overlaps, once the survey process has sent them; if it sends
        nothing for `timeout` seconds (held up, e.g. by a lock or a database that stopped
        answering), it is stopped and the batch fails."""
        with self._ready:
            if number < self._next:
                raise RuntimeError(f"batch {number} is written: its survey was let go")
            if not self._ready.wait_for(
                functools.partial(self._answered, number), timeout=self._timeout
            ):
                self._proc.kill()  # its reader then finds the output ended
                raise RuntimeError(
                    f"the survey process sent nothing for batch {number + 1} in "
                    f"{self._timeout:g} s (SMGOV_SURVEY_TIMEOUT_SECONDS): stopped"
                )
            if number in self._done:
                return self._done.pop(number)
        code = self._proc.wait()
        raise RuntimeError(f"the survey process stopped: {self._failed}; exit {code}{self._why()}")

    def _why(self) -> str:
        """The error the survey process reported last on its standard error (the exception's
        line of its traceback), if any."""
        self._errors.seek(0, 2)
        self._errors.seek(max(0, self._errors.tell() - 8192))
        lines = self._errors.read().decode(errors="replace").strip().splitlines()
        errors = [line for line in lines if _EXCEPTION_LINE.match(line)] or lines
        return f": {errors[-1][:300]}" if errors else ""

    def written(self, number: int) -> None:
        """Batch `number` is written: its overlaps, if it never asked for them, are let go."""
        with self._ready:
            self._done.pop(number, None)
            self._next = number + 1
            self._ready.notify_all()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()  # the campaign stopped early: nothing more to survey
        self._proc.wait()
        self.written(1 << 62)  # wakes the reader, which then finds the pipe closed
        self._reader.join()
        assert self._proc.stdout is not None  # piped
        self._proc.stdout.close()
        self._errors.close()


class _Answer:
    """Batch `number`'s survey from the survey process: called, it waits for it (`overlaps`);
    `ready` says, without waiting, whether it has come."""

    def __init__(self, survey: _SurveyProcess, number: int) -> None:
        self._survey, self._number = survey, number

    def __call__(self) -> Overlaps:
        return self._survey.overlaps(self._number)

    def ready(self) -> bool:
        return self._survey.ready(self._number)


#: accounts whose rows a campaign reads ahead while a batch waits for the survey process
#: (`ReadAhead`): a quarter of a second of reading and about 6 MB each 10,000 accounts
READ_AHEAD = 80_000


class ReadAhead:
    """A campaign opened a batch at a time (`batches`, `surveyed`): while a batch waits for the
    survey process (at the first, while it indexes the registry: seconds in which the campaign
    would do nothing), the batch's transaction reads what the next batches' openings read
    (`_read_batch`), the accounts of at most `READ_AHEAD`. A batch uses what was read for it
    only if nothing was written since but the campaign's own batches: on SQLite, the same
    connection with the same `data_version` (no other connection committed) and, between two
    batches, the same `total_changes` (nothing else written through this connection either);
    otherwise, and always on PostgreSQL, where nothing is read ahead, it reads again in its own
    transaction. A read ahead that fails is let go: the batch it was for reads again itself."""

    def __init__(self, batches: Sequence[list[str]]) -> None:
        self._batches = list(batches)
        self._read: dict[int, _Read] = {}
        self._after: tuple[Any, int, int] | None = None  # as the last batch left the connection

    @staticmethod
    def _state(ctx: Ctx) -> tuple[Any, int, int] | None:
        version = _version(ctx)
        if version is None:
            return None
        connection, data_version = version
        return connection, data_version, int(connection.total_changes)

    def start(
        self,
        ctx: Ctx,
        number: int,
        overlaps: Callable[[], Overlaps] | None,
        *,
        due: dt.date | None = None,
    ) -> dict[str, int]:
        """`start` for batch `number`, with what was read ahead for it, reading ahead for the
        next batches while it waits for its survey."""
        state = self._state(ctx)
        if state is None or state != self._after:
            self._read.clear()  # written or committed since the last batch: nothing is current
        wait = overlaps
        if isinstance(overlaps, _Answer) and state is not None:
            wait = functools.partial(self._reading, ctx, number, overlaps)
        self._after = None  # should this batch fail, nothing read before it is used again
        opened = start(
            ctx,
            entities=self._batches[number],
            due=due,
            overlaps=wait,
            read=self._read.pop(number, None),
        )
        write_pending(ctx.session)  # its audit events, else written at its commit
        self._after = self._state(ctx)  # its own writes done: its commit changes neither
        return opened

    def _reading(self, ctx: Ctx, number: int, answer: _Answer) -> Overlaps:
        held = sum(len(read.accounts) for read in self._read.values())
        for ahead in range(number + 1, len(self._batches)):
            if answer.ready() or held >= READ_AHEAD:
                break
            if ahead not in self._read:
                try:
                    read = _read_batch(ctx, self._batches[ahead])
                except Exception:  # a read ahead only saves time: let it go
                    break  # the batch reads again in its own transaction, and fails there
                self._read[ahead] = read
                held += len(read.accounts)
        return answer()


def surveyed(
    url: str, batches: Sequence[list[str]], *, timeout: float = 600.0
) -> Iterator[tuple[list[str], Callable[[], Overlaps] | None]]:
    """Each batch of entities with a callable that waits for its accounts' survey (`start`'s
    `overlaps`), or None when there is one batch (`start` surveys it in its transaction).

    Two batches or more: the survey runs in a process of its own (`_SurveyProcess`), which
    indexes the registry once from its own snapshot and surveys batch after batch ahead of the
    writes. The survey is pure Python for the most part: on a thread it shared the
    interpreter's lock with the writes and saved little; a process runs it on another core,
    and the campaign waits only for the first batch's, at most `timeout` seconds for any
    batch. An in-memory database, which another process cannot open, is surveyed here, batch
    by batch."""
    if len(batches) < 2 or url in ("sqlite://", "sqlite:///:memory:"):
        for batch in batches:
            yield batch, None
        return
    apart = _SurveyProcess(url, batches, timeout)
    try:
        for number, batch in enumerate(batches):
            yield batch, _Answer(apart, number)
            apart.written(number)
    finally:
        apart.close()


def entities_to_open(ctx: Ctx, *, entity: str | None, due: dt.date | None) -> list[str]:
    """The entities an on-demand campaign start covers, `due` checked for each as `start` checks
    it: a caller opening them a batch at a time (`batches`) refuses before writing any."""
    query = select(Entity).order_by(col(Entity.code))
    if entity:
        query = query.where(col(Entity.code) == get_entity(ctx, entity).code)
    targets = list(ctx.session.execute(query).scalars())
    for target in targets:
        today = local_date(ctx.now, target.timezone)
        if due is not None and due < today:
            raise Refused("--due", f"{due} lies before the effective date {today}")
    return [target.code for target in targets]


def batches(ctx: Ctx, codes: Sequence[str], *, accounts: int = 10_000) -> list[list[str]]:
    """`codes` in batches of whole entities holding about `accounts` active accounts each, in
    order (an entity with more is a batch of its own): a campaign over the whole registry opens
    one batch per transaction, so the write lock is held seconds at a time, never for the lot."""
    sizes = dict(
        ctx.session.execute(
            select(col(Account.entity_code), func.count())
            .where(col(Account.state).in_(ASSESSED_STATES))
            .group_by(col(Account.entity_code))
        ).all()
    )
    found: list[list[str]] = []
    held = accounts
    for code in codes:
        if held + sizes.get(code, 0) > accounts and found and found[-1]:
            found.append([])
            held = 0
        if not found:
            found.append([])
            held = 0
        found[-1].append(code)
        held += sizes.get(code, 0)
    return found


def start(
    ctx: Ctx,
    *,
    entity: str | None = None,
    entities: Sequence[str] | None = None,
    due: dt.date | None = None,
    scheduled: bool = False,
    survey: Survey | None = None,
    overlaps: Overlaps | Callable[[], Overlaps] | None = None,
    read: _Read | None = None,
) -> dict[str, int]:
    """Open a reassessment campaign for one entity, the entities `entities`, or all (or,
    `scheduled`, for those whose next reassessment date has come); `survey` when the caller
    indexed the registry already, `overlaps` when it surveyed these entities' accounts too (or
    a callable that waits for them: `surveyed`). Without either, the registry is indexed and
    surveyed here.

    Set-based over all the entities at once: the accounts' evidence read a few queries per 500
    entities, the survey computed for the whole block, the campaigns and assessments written
    in multi-row INSERTs, the accounts marked in one UPDATE, the duties opened by
    `obligations.open_many` (one audit event for the lot)."""
    query = select(Entity).order_by(col(Entity.code))
    if entity:
        query = query.where(col(Entity.code) == get_entity(ctx, entity).code)
    elif entities is not None:
        query = query.where(col(Entity.code).in_(list(entities)))
    targets = list(ctx.session.execute(query).scalars())
    report = {"campaigns": 0, "assessments": 0, "kept": 0}
    existing = set(
        ctx.session.execute(
            select(col(Campaign.entity_code), col(Campaign.anchor_on)).where(
                col(Campaign.kind) == "reassessment",
                col(Campaign.entity_code).in_([t.code for t in targets]),
            )
        ).all()
    )
    opening: dict[str, tuple[Entity, dt.date, dt.datetime]] = {}
    for target in targets:
        today = local_date(ctx.now, target.timezone)
        if scheduled and (
            target.next_reassessment_on is None or target.next_reassessment_on > today
        ):
            continue
        anchor = target.next_reassessment_on if scheduled and target.next_reassessment_on else today
        if (target.code, anchor) in existing:
            continue
        due_day = due or today + dt.timedelta(days=ctx.settings.assessment_days)
        if due_day < today:
            raise Refused("--due", f"{due_day} lies before the effective date {today}")
        opening[target.code] = (target, anchor, due_after(due_day, 0, target.timezone))
    if not opening:
        return report
    insert_rows(
        ctx.session,
        CAMPAIGN,
        [
            {
                "kind": "reassessment",
                "entity_code": code,
                "anchor_on": anchor,
                "due_at": due_at,
                "state": "open",
                "opened_at": ctx.now,
            }
            for code, (_, anchor, due_at) in opening.items()
        ],
    )
    campaigns: dict[str, int] = {}
    for campaign_id, code, anchor in ctx.session.execute(
        select(col(Campaign.id), col(Campaign.entity_code), col(Campaign.anchor_on)).where(
            col(Campaign.kind) == "reassessment", col(Campaign.entity_code).in_(list(opening))
        )
    ):
        if anchor == opening[code][1]:
            campaigns[code] = campaign_id
    opened = _open_assessments(ctx, opening, campaigns, survey, overlaps, read)
    report.update(campaigns=len(campaigns), assessments=opened[0], kept=opened[1])
    for code, (target, anchor, due_at) in opening.items():
        if scheduled:
            target.next_reassessment_on = add_months(anchor, ctx.settings.reassessment_months)
            ctx.session.add(target)
        ctx.audit(
            actor=ACTOR,
            action="campaign.open",
            subject=f"campaign:{campaigns[code]}",
            after={"kind": "reassessment", "entity": code, "due_at": iso(due_at)},
        )
    ctx.session.flush()
    return report


def _open_assessments(
    ctx: Ctx,
    opening: dict[str, tuple[Entity, dt.date, dt.datetime]],
    campaigns: dict[str, int],
    survey: Survey | None,
    overlaps: Overlaps | Callable[[], Overlaps] | None,
    read: _Read | None = None,
) -> tuple[int, int]:
    """One assessment per active account of the entities `opening`, pre-filled; an account with
    an open assessment keeps it (pre-filled now if it was not); `read` what a read ahead found
    for these entities (`ReadAhead`), used only if nothing else was committed since (on SQLite,
    `_version`), else read again here. Returns (opened, kept)."""
    if not _current(ctx, read, opening):
        read = _read_batch(ctx, sorted(opening))
    assert read is not None  # read here if it was not read ahead
    accounts, kept = read.accounts, read.kept
    fresh = [a for a in accounts if a.id not in kept]
    unfilled = [a for a in accounts if a.id in kept and kept[a.id][1]]
    # the fresh accounts, marked and given their duty, by their ids (one parameter), first: they
    # need no evidence, and a campaign whose survey runs apart (`surveyed`) writes them while
    # the survey process is still at the first batch
    fresh_ids = [a.id for a in fresh]
    ctx.session.execute(  # Core, by id: no ORM session to bring in step with the new state
        update(Account)
        .where(among(ctx.session, col(Account.id), fresh_ids))
        .values(state="under-reassessment"),
        execution_options={"synchronize_session": False},
    )
    heads = heads_of(session=ctx.session, entity_codes=list(opening), at=ctx.now)
    fresh_where: tuple[Any, ...] = (among(ctx.session, col(Account.id), fresh_ids),)
    if ctx.session.get_bind().dialect.name == "sqlite":
        # the same accounts, named by their entities (those read above, less those kept):
        # SQLite joins a list of ids to the entities' values by seeking every id once per
        # entity (2.9 s of a 100k campaign's duties, against 1 s this way)
        fresh_where = (
            among(ctx.session, col(Account.entity_code), sorted(opening)),
            # `state || ''`: not the state's index, which without statistics SQLite prefers to
            # the entities' and reads every account in use through it, batch after batch
            (col(Account.state) + literal("")).in_(ASSESSED_STATES),
            ~among(ctx.session, col(Account.id), sorted(kept)),
        )
    fresh_accounts = (
        select(
            col(Account.id).label("account_id"),
            col(Account.entity_code).label("entity_code"),
        )
        .where(*fresh_where)
        .subquery("fresh")
    )
    obligations.open_for_accounts(
        ctx,
        fresh_accounts,
        [
            obligations.ForEntity(target, heads.get(code) or "registry", due_at)
            for code, (target, _, due_at) in opening.items()
        ],
        clause="3.2",
        kind="reassessment",
        actor=ACTOR,
    )
    entities = {code: target for code, (target, _, _) in opening.items()}
    evidence = _evidence(ctx, entities, read, [*unfilled, *fresh], survey, overlaps)
    stale_after = ctx.settings.attestation_days
    filled = []
    for account in unfilled:  # e.g. the initial 3.3 one: pre-fill it now
        assert account.id is not None  # loaded from the database
        findings = prefill(evidence[account.id], stale_after=stale_after)
        recommendation, why = recommend(findings)
        filled.append(
            {
                "id": kept[account.id][0],
                "findings": orjson.dumps(findings).decode(),
                "recommendation": recommendation,
                "why": why,
            }
        )
    update_rows(ctx.session, ASSESSMENT, filled)
    rows = []
    for account in fresh:
        assert account.id is not None  # loaded from the database
        findings = prefill(evidence[account.id], stale_after=stale_after)
        recommendation, why = recommend(findings)
        rows.append(
            {
                "account_id": account.id,
                "campaign_id": campaigns[account.entity_code],
                "reason": "periodic",
                "state": "open",
                "due_at": opening[account.entity_code][2],
                "opened_at": ctx.now,
                "findings": orjson.dumps(findings).decode(),
                "recommendation": recommendation,
                "why": why,
            }
        )
    insert_rows(ctx.session, ASSESSMENT, rows)
    return len(fresh), len(kept)


def close_due(ctx: Ctx) -> int:
    """At its deadline a reassessment campaign closes: complete if every assessment was decided,
    else incomplete — no default decision is ever applied."""
    due = (
        ctx.session.execute(
            select(Campaign).where(
                col(Campaign.kind) == "reassessment",
                col(Campaign.state) == "open",
                col(Campaign.due_at) <= ctx.now,
            )
        )
        .scalars()
        .all()
    )
    for campaign in due:
        states = Counter(
            ctx.session.execute(
                select(col(Assessment.state)).where(col(Assessment.campaign_id) == campaign.id)
            ).scalars()
        )
        campaign.state, campaign.closed_at = "closed", ctx.now
        campaign.outcome = "incomplete" if states["open"] else "complete"
        ctx.session.add(campaign)
        ctx.audit(
            actor=ACTOR,
            action="campaign.close",
            subject=f"campaign:{campaign.id}",
            after={"outcome": campaign.outcome, "unanswered": states["open"]},
        )
    return len(due)


def _open_assessment(ctx: Ctx, account: Account) -> Assessment:
    found = ctx.session.execute(
        select(Assessment).where(
            col(Assessment.account_id) == account.id, col(Assessment.state) == "open"
        )
    ).scalar_one_or_none()
    if not isinstance(found, Assessment):
        raise NotFound("ACCOUNT", R("account {id} has no open assessment"), id=str(account.id))
    return found


def decide(
    ctx: Ctx,
    *,
    ref: str,
    decision: str,
    reason: str,
    by: str,
    conditions: list[str] | None = None,
    within_days: int = 30,
) -> Assessment:
    """The head (or officer-in-charge) decides: continue; continue with conditions (each an
    obligation with a deadline); or withdraw approval (3.8), which starts the closure."""
    if decision not in DECISIONS:
        raise Refused(
            "--decision", R("must be one of {choices}"), "3.8", choices=", ".join(DECISIONS)
        )
    account = account_for(ctx, ref, by=by, action="decide")
    why = check_text("--reason", reason, limit=4000, clause="3.2")
    conds = [check_text("--condition", c, limit=500, clause="3.2") for c in conditions or []]
    if decision == "conditions" and not conds:
        raise Refused(
            "--condition", R("continuing with conditions needs at least one condition"), "3.2"
        )
    if decision != "conditions" and conds:
        raise Refused("--condition", R("conditions go with --decision conditions"), "3.2")
    if not 1 <= within_days <= 365:
        raise Refused("--within", "must be 1 to 365 days")
    assessment = _open_assessment(ctx, account)
    entity = get_entity(ctx, account.entity_code)
    assessment.state, assessment.decision = "decided", decision
    assessment.decided_by, assessment.decided_at, assessment.reason_text = by, ctx.now, why
    ctx.session.add(assessment)
    obligations.close_key(
        ctx, f"assessment:{account.id}", state="met", reason=f"{decision}: {why[:200]}", actor=by
    )
    if decision == "withdraw":
        assert account.id is not None  # loaded from the database
        _withdraw(ctx, entity, [account.id], by=by, why=why)
    else:
        account.state = "active"
        ctx.session.add(account)
        today = local_date(ctx.now, entity.timezone)
        fulfils = condition_holders(ctx, [account.id or 0])[account.id or 0] if conds else ""
        for number, text in enumerate(conds, start=1):
            obligations.open_obligation(
                ctx,
                key=f"condition:{assessment.id}:{number}",
                clause="3.2",
                kind="assessment-condition",
                subject=f"account:{account.id}",
                entity=entity,
                assignee=fulfils,
                due_at=due_after(today, within_days, entity.timezone),
                actor=by,
                detail=text,
            )
    ctx.session.flush()
    ctx.audit(
        actor=by,
        action=f"assessment.{decision}",
        subject=f"account:{account.id}",
        after={"assessment": assessment.id, "reason": why, "conditions": conds},
    )
    return assessment


def _withdraw(ctx: Ctx, entity: Entity, ids: Sequence[int], *, by: str, why: str) -> list[int]:
    """3.8: approval of accounts `ids` of `entity` withdrawn, set-based — an open assessment of
    each decided as a withdraw decision decides it (its duty met), every authorization revoked
    at once, the accounts withdrawn, their other open duties withdrawn (those of custody stay:
    credentials are kept until closure), and closure on the platform due within `closure_days`
    (a setting), one duty per account. One statement per 500 accounts for each table, the
    duties opened by `obligations.open_many`. Returns the assessments decided."""
    decided: list[int] = []
    withdrawn_accounts: list[int] = []  # whose open assessment is decided here
    revoked = f"approval withdrawn (3.8): {why[:200]}"
    for chunk in chunks(sorted(ids)):
        for assessment_id, account_id in ctx.session.execute(
            select(col(Assessment.id), col(Assessment.account_id)).where(
                among(ctx.session, col(Assessment.account_id), chunk),
                col(Assessment.state) == "open",
            )
        ):
            decided.append(assessment_id)
            withdrawn_accounts.append(account_id)
        for table, where, values in (
            (
                Assessment,
                [
                    among(ctx.session, col(Assessment.account_id), chunk),
                    col(Assessment.state) == "open",
                ],
                {
                    "state": "decided",
                    "decision": "withdraw",
                    "decided_by": by,
                    "decided_at": ctx.now,
                    "reason_text": why,
                },
            ),
            (
                Authorization,
                [
                    among(ctx.session, col(Authorization.account_id), chunk),
                    col(Authorization.revoked_at).is_(None),
                ],
                {"revoked_at": ctx.now, "revoked_by": by, "revoked_reason": revoked},
            ),
            (
                Account,
                [among(ctx.session, col(Account.id), chunk)],
                {"state": "withdrawn", "updated_at": ctx.now},
            ),
        ):
            ctx.session.execute(
                update(table).where(*where).values(**values),
                execution_options={"synchronize_session": "fetch"},
            )
    obligations.close_keys(
        ctx,
        [f"assessment:{account_id}" for account_id in withdrawn_accounts],
        state="met",
        reason=f"withdraw: {why[:200]}",
        actor=by,
    )
    obligations.withdraw_about(
        ctx,
        [f"account:{account_id}" for account_id in ids],
        keep=CUSTODY_DUTIES,
        reason="approval withdrawn (3.8)",
        actor=by,
    )
    head = current_head(session=ctx.session, entity_code=entity.code, at=ctx.now)
    # the custody duties stay until closure (4.2), with someone who may still attest them:
    # the people who held them were authorized no more
    pass_on_custody(ctx, actor=by, accounts=ids)
    due_at = due_after(
        local_date(ctx.now, entity.timezone), ctx.settings.closure_days, entity.timezone
    )
    obligations.open_many(
        ctx,
        [
            obligations.Duty(
                key=f"close:{account_id}",
                clause="3.8",
                kind="close-account",
                subject=f"account:{account_id}",
                entity=entity,
                assignee=head or "registry",
                due_at=due_at,
            )
            for account_id in ids
        ],
        actor=by,
    )
    return sorted(decided)


def _withdrawable(account: AccountLike) -> None:
    if account.state in ("withdrawn", "closed"):
        raise Refused("ACCOUNT", f"account {account.id} is already {account.state}", "3.8")


def _withdraw_audited(
    ctx: Ctx, entity: Entity, ids: list[int], *, by: str, reason: str
) -> list[int]:
    """`_withdraw` with its reason checked, then one audit event for the lot."""
    why = check_text("--reason", reason, limit=4000, clause="3.8")
    decided = _withdraw(ctx, entity, ids, by=by, why=why)
    ctx.audit(
        actor=by,
        action="account.withdraw",
        subject=f"account:{ids[0]}" if len(ids) == 1 else f"entity:{entity.code}",
        after={
            "accounts": ids[:1000],
            "count": len(ids),
            "assessments": decided[:1000],
            "reason": why,
            "state": "withdrawn",
        },
    )
    return ids


def withdraw(ctx: Ctx, *, ref: str, reason: str, by: str) -> Account:
    """3.8 at any time: the head withdraws approval of an account — the same effects as a
    withdraw decision in an assessment (an open one is decided so), by the code that withdraws
    many (`withdraw_many`)."""
    account = account_for(ctx, ref, by=by, action="decide")
    _withdrawable(account)
    assert account.id is not None  # loaded from the database
    entity = get_entity(ctx, account.entity_code)
    _withdraw_audited(ctx, entity, [account.id], by=by, reason=reason)
    return account


def withdraw_many(
    ctx: Ctx, *, entity: str, refs: Sequence[str] | None = None, reason: str, by: str
) -> list[int]:
    """3.8 for many accounts of one entity in one act: those `refs` name (each of `entity`), or
    with no refs every account of the entity not yet withdrawn or closed. The head of that
    entity (or an officer-in-charge in period) decides it, as for one account (the policy
    table's `decide`); set-based from start to end (`_withdraw`), one audit event for the lot.
    Returns the accounts withdrawn, by id."""
    target = get_entity(ctx, entity, field="--entity")
    require(
        ctx, actor=by, action="decide", entity_code=target.code, subject=f"entity:{target.code}"
    )
    if refs is None:
        ids = [
            row.id
            for row in account_rows(
                ctx,
                col(Account.entity_code) == target.code,
                col(Account.state).not_in(("withdrawn", "closed")),
            )
        ]
        if not ids:
            raise Refused("--entity", f"{target.code} has no account left to withdraw", "3.8")
    else:
        named = {}
        for ref in refs:
            account = get_account(ctx, ref)
            if account.entity_code != target.code:
                raise Refused(
                    "ACCOUNT",
                    f"account {account.id} is {account.entity_code}'s, not {target.code}'s",
                )
            _withdrawable(account)
            assert account.id is not None  # loaded from the database
            named[account.id] = account
        ids = sorted(named)
        if not ids:
            raise Refused("ACCOUNT", "name the accounts to withdraw, or every one with --all")
    return _withdraw_audited(ctx, target, ids, by=by, reason=reason)


def closed(ctx: Ctx, *, ref: str, closed_on: dt.date, evidence: str, by: str) -> Account:
    """Record the closure (or archiving) on the platform, with evidence; nothing is deleted."""
    account = account_for(ctx, ref, by=by, action="registry.write")
    if account.state != "withdrawn":
        raise Refused(
            "ACCOUNT",
            f"account {account.id} is {account.state}; only a withdrawn account is closed",
            "3.8",
        )
    entity = get_entity(ctx, account.entity_code)
    if closed_on > local_date(ctx.now, entity.timezone):
        raise Refused("--closed-on", f"{closed_on} lies after the effective date")
    text = check_text("--evidence", evidence, limit=4000, clause="3.8")
    account.state, account.closed_on, account.closure_evidence = "closed", closed_on, text
    account.updated_at = ctx.now
    ctx.session.add(account)
    obligations.close_key(ctx, f"close:{account.id}", state="met", reason="closed (3.8)", actor=by)
    # closed on the platform: no credential is left to hand over or rotate (4.2, 3.8)
    obligations.withdraw_about(
        ctx, [f"account:{account.id}"], keep=(), reason="account closed (3.8)", actor=by
    )
    ctx.session.flush()
    ctx.audit(
        actor=by,
        action="account.closed",
        subject=f"account:{account.id}",
        after={"closed_on": closed_on.isoformat(), "evidence": text},
    )
    return account


def assessment_view(ctx: Ctx, a: Assessment) -> dict[str, Any]:
    return {
        "id": a.id,
        "account": a.account_id,
        "campaign": a.campaign_id,
        "reason": a.reason,
        "state": a.state,
        "due_at": iso(a.due_at),
        "findings": json.loads(a.findings) if a.findings else {},
        "recommendation": a.recommendation,
        "why": a.why,
        "decision": a.decision,
        "decided_by": a.decided_by,
        "decided_by_name": staff_name(ctx, a.decided_by),
        "decided_at": iso(a.decided_at),
        "decision_reason": a.reason_text,
    }


def list_assessments(ctx: Ctx, *, entity: str | None = None) -> list[dict[str, Any]]:
    query = select(Assessment).order_by(col(Assessment.id))
    if entity:
        query = query.join(Account, col(Account.id) == col(Assessment.account_id)).where(
            func.upper(col(Account.entity_code)) == entity.strip().upper()  # dgc is DGC
        )
    return [assessment_view(ctx, a) for a in ctx.session.execute(query).scalars()]


def get_assessment(ctx: Ctx, assessment_id: int) -> Assessment:
    found = ctx.session.get(Assessment, assessment_id)
    if found is None:
        raise NotFound("ID", R("no assessment {id}"), id=str(assessment_id))
    return found


def meet(ctx: Ctx, *, obligation_id: int, by: str, note: str) -> Obligation:
    """The head (or officer-in-charge) confirms a duty with no state of its own is met — a
    condition of continuation (3.2). Every other kind is met by the state smgov checks
    (models.duties): refused, naming the command that meets it. Never the assignee alone: the
    policy's `duty.confirm` is not-self, the duty's assignee being the person acted upon."""
    ob = ctx.session.get(Obligation, obligation_id)
    if ob is None:
        raise NotFound("ID", f"no obligation {obligation_id}")
    how = met_by(ob.kind)
    if how.state is not None:
        raise Refused(
            "ID",
            f"obligation {ob.id} ({ob.kind}) is met by {how.state}, which smgov checks itself: "
            f"{how.command}",
            ob.clause,
        )
    require(
        ctx,
        actor=by,
        action="duty.confirm",
        entity_code=ob.entity_code,
        subject=f"obligation:{ob.id}",
        target=ob.assignee,
    )
    obligations.close(ctx, ob, state="met", reason=check_text("--note", note, limit=500), actor=by)
    return ob


#: The largest activity figure smgov keeps (posts a month, followers): more than any account has.
MAX_FIGURE = 10**12


def _figure(field: str, text: str, *, whole: bool) -> float:
    """A count read from a file: a finite number from 0 to MAX_FIGURE, whole where `whole`."""
    rule = f"must be a {'whole ' if whole else ''}number from 0 to {MAX_FIGURE:,}"
    if len(text) > 24:  # Python refuses to parse 4,300 digits or more
        raise Refused(field, rule)
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise Refused(field, rule) from None
    if not (0 <= value <= MAX_FIGURE):  # NaN fails this too
        raise Refused(field, rule)
    return float(value)


def import_activity(ctx: Ctx, rows: list[tuple[int, dict[str, Any]]]) -> int:
    """Activity figures (account,last_post,posts_per_month,followers) to inform 3.2's impact."""
    from models.clock import parse_date

    errors, values = [], []
    for number, raw in rows:
        try:
            account = get_account(ctx, str(raw.get("account") or ""))
            last = str(raw.get("last_post") or "").strip()
            posts = str(raw.get("posts_per_month") or "").strip()
            fans = str(raw.get("followers") or "").strip()
            values.append(
                (
                    account.id,
                    parse_date(last, field="last_post") if last else None,
                    _figure("posts_per_month", posts, whole=False) if posts else None,
                    int(_figure("followers", fans, whole=True)) if fans else None,
                )
            )
        except Refused as exc:
            errors.append(f"row {number}: {exc}")
    if errors:
        raise Refused("FILE", "; ".join(errors[:20]))
    for account_id, last_post, posts_per_month, followers in values:
        assert account_id is not None
        row = ctx.session.get(AccountActivity, account_id) or AccountActivity(
            account_id=account_id, imported_at=ctx.now
        )
        row.last_post_on, row.posts_per_month, row.followers = last_post, posts_per_month, followers
        row.imported_at = ctx.now
        ctx.session.add(row)
    ctx.session.flush()
    ctx.audit(
        actor="operator",
        action="activity.import",
        subject="registry",
        after={"accounts": len(values)},
    )
    return len(values)


def housekeeping(ctx: Ctx) -> dict[str, int]:
    """What the daily reassessment run does: schedule, open what is due, close what is over."""
    scheduled = schedule(ctx)
    opened = start(ctx, scheduled=True)
    return {"scheduled": scheduled, **opened, "closed": close_due(ctx)}
