"""What every flow needs: settings, one engine per run, the flow's effective time, and how a door
runs a process.

This module never imports Prefect at import time. A door runs a process with
`flows.run.run_process`: with a Prefect server configured (`PREFECT_API_URL`, in the environment
or the active Prefect profile) it is the Prefect flow, run and tracked there; without one, the same
code (flows/steps.py) runs here, step after step, with no temporary Prefect server and without
importing Prefect at all.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from database import make_engine
from models.clock import parse_instant, system_now
from models.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("smgov.flows")


def effective_time(as_of: str | None) -> dt.datetime:
    """A flow's `now`: the `as_of` parameter (ISO text, as deployments pass it) or the clock."""
    return parse_instant(as_of) if as_of else system_now()


@contextlib.contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextlib.contextmanager
def quiet_heartbeat() -> Iterator[None]:
    """Run flows in this process without the run heartbeat thread (it adds ~1 s per sync run)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


# --------------------------------------------------------------------------------------------
# steps: plain functions here, Prefect tasks inside a Prefect flow run


def step(name: str, *, retries: int = 2, delay: int = 5) -> Callable[[F], F]:
    """Declare a flow step (the Prefect task `name`, retried `retries` times `delay` s apart when
    the flow runs under Prefect). The function itself stays a plain function."""

    def mark(fn: F) -> F:
        fn.__dict__["smgov_step"] = (name, retries, delay)
        return fn

    return mark


_UNDER_PREFECT = contextvars.ContextVar("under_prefect", default=False)
_TASKS: dict[Callable[..., Any], Any] = {}


@contextlib.contextmanager
def under_prefect() -> Iterator[None]:
    """Inside a Prefect flow's body: every `call` runs its step as a Prefect task."""
    token = _UNDER_PREFECT.set(True)
    try:
        yield
    finally:
        _UNDER_PREFECT.reset(token)


def call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run step `fn`: as its Prefect task inside a Prefect flow run, else directly."""
    if not _UNDER_PREFECT.get():
        return fn(*args)
    if fn not in _TASKS:
        from prefect import task

        name, retries, delay = fn.__dict__["smgov_step"]
        _TASKS[fn] = task(name=name, retries=retries, retry_delay_seconds=delay)(fn)
    return _TASKS[fn](*args)


def say(message: str, *args: Any) -> None:
    """The flow's own log line: the run logger under Prefect, else the `smgov.flows` logger."""
    if _UNDER_PREFECT.get():
        from prefect import get_run_logger

        get_run_logger().info(message, *args)
    else:
        log.info(message, *args)


# --------------------------------------------------------------------------------------------
# the steps every process ends with


@step("deliver-outbox", retries=1)
def deliver_due(as_of: str | None) -> dict[str, int]:
    """Deliver everything due in the outbox (the body of every flow's last step)."""
    from notifications.outbox import deliver

    settings = Settings()
    with engine_for(settings) as engine:
        report = deliver(engine, settings, now=effective_time(as_of))
    return {"sent": report.sent, "failed": report.failed + report.dead, "dead": report.dead}


@step("apply-hr-events")
def apply_hr_events(as_of: str | None) -> dict[str, int]:
    """Act on every HR event due (4.2), in three transactions, most urgent first:
    1. the authorizations are revoked (and the people's status set) — privileges are withdrawn
       without waiting for what follows;
    2. the follow-up: handover duties, reopened entry duties and orphan alerts;
    3. the first reminders of the duties step 2 opened.
    Should a later step fail, nothing is lost: step 2 picks up every event step 1 left
    `revoked` at the next run (this step retries, and every sweep runs it), and the duties
    opened are due, so the next sweep tells them (once, as always)."""
    from services.context import unit_of_work
    from services.reminders import queue_due
    from services.separation import follow_up, revoke_due

    settings = Settings()
    now = effective_time(as_of)
    with engine_for(settings) as engine:
        with unit_of_work(engine, settings, now) as ctx:
            revoked = revoke_due(ctx)
        with unit_of_work(engine, settings, now) as ctx:
            report = follow_up(ctx)
        queued = 0
        if report.obligations:
            with unit_of_work(engine, settings, now) as ctx:
                queued = queue_due(ctx, only=report.obligations).queued
    return {
        "events": revoked.applied,
        "revoked": revoked.revoked,
        "orphaned": len(report.orphaned),
        "alerts": report.alerts + queued,
    }


# --------------------------------------------------------------------------------------------
# running a process from a door


def _profile_api_url() -> str | None:
    """PREFECT_API_URL as the active Prefect profile sets it (`prefect config set ...`), read
    without importing Prefect."""
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        content = path.read_text(encoding="utf-8")
    except OSError:
        return None
    import tomllib  # only when there is a profiles file to read

    try:
        profiles = tomllib.loads(content)
    except ValueError:
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    value = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(value) if value else None


def prefect_configured() -> bool:
    """Whether a Prefect server is configured: flows then run (and are tracked) there."""
    return bool(os.environ.get("PREFECT_API_URL") or _profile_api_url())
