"""What every flow needs: settings, one engine per run, and the flow's effective time."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from sqlalchemy.engine import Engine

from models.clock import parse_instant, system_now
from models.settings import Settings
from services.db import make_engine


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
