"""The ASGI app started by `smgov api`: the HR intake webhook (POST /hr/events) and the web door
(smgov.web: pages for heads of entities and staff, and the public /verify).

Authenticated by HMAC-SHA256 over "<timestamp>.<raw body>" with SMGOV_HR_WEBHOOK_SECRET; a
timestamp more than 300 s away is refused so a captured request cannot be replayed. Events are
stored first (idempotent by event id) and then processed in the background: events arriving
together are handled by one flow run. The rules live in services; this file only parses.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from database import make_engine
from models.clock import iso, system_now
from models.errors import Refused
from models.hr import EventIn, parse_event
from models.settings import Settings
from services.context import unit_of_work
from services.separation import IntakeReport, record
from smgov.scim import router as scim_router
from smgov.web import install as install_web

WINDOW_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value a sender computes."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class _Batcher:
    """Runs one flow for whatever events arrived within a short window (never one per event),
    in this process, against the Prefect server when one is configured: an event reaches its
    revoked authorizations in well under a second (issue 9), where a deployment would wait for
    a worker's next poll."""

    def __init__(self, delay: float = 0.1) -> None:
        self._delay = delay
        self._pending: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.ready = threading.Event()  # set once the start-up run is done
        self._busy = threading.Lock()  # held while a run applies events
        self._stopping = threading.Event()
        threading.Thread(target=self._loop, name="hr-dispatch", daemon=True).start()

    def stop(self, timeout: float = 20.0) -> None:
        """At shutdown: no new run starts, and the one under way ends first (up to `timeout`),
        so the process never exits halfway through applying events. Events not yet applied are
        stored already; the next start or the daily sweep applies them."""
        self._stopping.set()
        self._wake.set()
        if self._busy.acquire(timeout=timeout):
            self._busy.release()

    def add(self, events: list[tuple[str, str, str]]) -> None:
        with self._lock:
            self._pending.extend(events)
        self._wake.set()

    def _loop(self) -> None:
        from flows.common import prefect_configured
        from flows.run import dispatch

        if prefect_configured():  # the flow runs there: Prefect imported now, before any event
            import flows.separation  # noqa: F401

        # At start: apply whatever was stored and left pending (e.g. the process stopped before
        # it could), which also readies the flow engine so the first event is as quick as any.
        with self._busy:
            if not self._stopping.is_set():
                self._run(dispatch, [])
        self.ready.set()
        while not self._stopping.is_set():
            self._wake.wait()
            time.sleep(self._delay)
            with self._lock:
                batch, self._pending = self._pending, []
                self._wake.clear()
            with self._busy:
                if batch and not self._stopping.is_set():
                    self._run(dispatch, batch)

    @staticmethod
    def _run(dispatch: Any, batch: list[tuple[str, str, str]]) -> None:
        try:
            dispatch(batch, as_of=None, inline=True)
        except Exception:  # the daily sweep applies whatever this run could not
            logging.getLogger("smgov.api").exception(
                "processing %d HR events failed; the daily sweep will apply them", len(batch)
            )


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": f"body: larger than {limit} bytes (SMGOV_MAX_BODY_BYTES)"}, status_code=413
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    config = settings or Settings()
    engine = make_engine(config.resolved_database_url)
    batcher = _Batcher()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(batcher.stop)  # a run under way ends before the process does

    app = FastAPI(  # no route map: /openapi.json and /docs are off
        title="smgov", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    install_web(app, config, engine)
    app.include_router(scim_router(config, engine, batcher.add))  # SCIM 2.0 at /scim/v2

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness, and whether the intake has finished its start-up run (`ready`)."""
        return {"status": "ok", "intake": "ready" if batcher.ready.is_set() else "starting"}

    def store(events: list[EventIn]) -> IntakeReport:
        """The database work of an intake: in a worker thread, never on the event loop, so
        /health and the pages answer while a batch (or a SQLite lock) is waited for."""
        with unit_of_work(engine, config, system_now()) as ctx:
            return record(ctx, events, source="webhook")

    @app.post("/hr/events")
    async def hr_events(request: Request) -> JSONResponse:
        secret = config.hr_webhook_secret
        if secret is None:
            return JSONResponse({"error": "the HR webhook is not configured"}, status_code=503)
        limit = config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and not (declared.isascii() and declared.isdigit()):
            return JSONResponse({"error": "content-length: malformed"}, status_code=400)
        if declared is not None and int(declared) > limit:
            return _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # counted while read: nothing past the limit
            size += len(chunk)
            if size > limit:
                return _too_large(limit)
            chunks.append(chunk)
        body = b"".join(chunks)
        stamp = request.headers.get("x-smgov-timestamp", "")
        given = request.headers.get("x-smgov-signature", "")
        fresh_stamp = stamp.isascii() and stamp.isdigit() and len(stamp) <= 12
        if not fresh_stamp or abs(time.time() - int(stamp)) > WINDOW_SECONDS:
            return JSONResponse({"error": "missing or stale timestamp"}, status_code=401)
        expected = sign(secret.get_secret_value(), stamp, body)
        if not given.isascii() or not hmac.compare_digest(expected.encode(), given.encode()):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        try:
            payload: Any = json.loads(body)
            raw = payload if isinstance(payload, list) else [payload]
            if not raw or not all(isinstance(item, dict) for item in raw):
                raise Refused("body", "must be a JSON object or a list of objects")
            events: list[EventIn] = [parse_event(item) for item in raw]
        except Refused as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        except ValueError as exc:  # not JSON (a number of 4,300 digits or more among them)
            return JSONResponse({"error": f"body: not JSON ({type(exc).__name__})"}, 422)
        except RecursionError:  # JSON nested deeper than the parser can follow
            return JSONResponse({"error": "body: nested too deeply"}, status_code=422)
        report = await run_in_threadpool(store, events)
        fresh = set(report.stored)
        batcher.add([(e.type, e.staff, e.event_id) for e in events if e.event_id in fresh])
        answer: dict[str, Any] = {
            "stored": report.stored,
            "duplicates": report.duplicates,
            "flagged": report.flagged,
            "received_at": iso(system_now()),
        }
        if report.conflicts:
            answer["conflicts"] = report.conflicts
            answer["error"] = (
                "event_id: already recorded with other content; kept as a conflict, not applied"
            )
            return JSONResponse(answer, status_code=409)
        return JSONResponse(answer, status_code=202)

    return app
