"""A real `smgov api` process serving SCIM at /scim/v2, shared by the tests of one module and
backend (starting one costs seconds), with a seeded registry and plain HTTP helpers."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import create_engine, text

from database import make_engine
from models.settings import Settings
from services.context import unit_of_work
from tests import org
from tests.conftest import AUDIT_KEY, SESSION_KEY

TOKEN = "scim-test-token-0123456789abcdef-0123456789"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Scim:
    """The running server, its database and the environment it was started with."""

    url: str
    db_url: str
    env: dict[str, str]

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"content-type": "application/scim+json", **(headers or {})}
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        where, _, query = path.partition("?")
        target = f"{self.url}/scim/v2{where}" + ("?" + quote(query, safe="=&+%") if query else "")
        # http.client rather than urllib: a server may answer (413) and close before it has read
        # an oversized body, and the client's writing then fails with a broken pipe although
        # the answer is waiting to be read
        parts = urlsplit(target)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.request(method, target[len(f"{parts.scheme}://{parts.netloc}") :], data, sent)
            answer = conn.getresponse()
            payload = answer.read()
            return Answer(
                answer.status,
                json.loads(payload) if payload else None,
                {k.lower(): v for k, v in answer.getheaders()},
            )
        finally:
            conn.close()

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = create_engine(self.db_url)
        with engine.connect() as conn:
            found = [tuple(r) for r in conn.execute(text(sql), params)]
        engine.dispose()
        return found


def entra_user(index: str, user_name: str, **extra: Any) -> dict[str, Any]:
    """The body Entra ID's provisioning service sends to create a user (Microsoft's "Develop
    and plan provisioning for a SCIM endpoint", Create User), with externalId mapped from the
    employee id (the staff index number) and the enterprise extension's department."""
    body: dict[str, Any] = {
        "schemas": [CORE, ENTERPRISE],
        "externalId": index,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
    }
    body.update(extra)
    return body


def make_db(backend: str, postgres: Any, sqlite_template: Path, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        path = folder / "smgov.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if postgres is None:
        pytest.skip("PostgreSQL not configured: set SMGOV_TEST_POSTGRES_URL")
    url = postgres.fresh()
    yield url
    postgres.drop(url)


def seed(db_url: str, home: Path) -> dict[str, int]:
    """OHCHR (head 100001; 100002 administers two accounts with 100003 as alternate; 100004
    alone runs a third) and DGC (head 200001), named by the directory as departments."""
    settings = Settings(
        home=home,
        database_url=db_url,
        audit_key=AUDIT_KEY,
        session_secret=SESSION_KEY,
        issuance_date=dt.date(2026, 1, 15),
        registry_email="registry@un.example",
    )
    engine = make_engine(db_url)
    try:
        with unit_of_work(engine, settings, org.T0) as ctx:
            org.seed(ctx)
            org.seed(ctx, code="DGC", tz="America/New_York", prefix="2")
        with unit_of_work(engine, settings, org.T0) as ctx:
            first = org.account(ctx)
            second = org.account(
                ctx,
                platform="instagram",
                url="instagram.com/unhumanrights",
                handle="unhumanrights",
            )
            org.complete(ctx, first)
            org.complete(ctx, second)
            lone = org.account(
                ctx, platform="tiktok", url="tiktok.com/@unhumanrights", handle="unhumanrights"
            )
            from services.accounts import authorize

            authorize(
                ctx,
                ref=str(lone),
                staff="100004",
                role="administrator",
                by="100001",
                reference="R-lone",
            )
    finally:
        engine.dispose()
    return {"first": first, "second": second, "lone": lone}


def environment(folder: Path, db_url: str, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SMGOV_")}
    env.update(
        {
            "SMGOV_HOME": str(folder),
            "SMGOV_DATABASE_URL": db_url,
            "SMGOV_AUDIT_KEY": AUDIT_KEY,
            "SMGOV_SESSION_SECRET": SESSION_KEY,
            "SMGOV_ISSUANCE_DATE": "2026-01-15",
            "SMGOV_REGISTRY_EMAIL": "registry@un.example",
            "SMGOV_SCIM_TOKEN": TOKEN,
            **extra,
        }
    )
    return env


def serve(
    request: pytest.FixtureRequest,
    postgres: Any,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Scim, dict[str, int]]]:
    """Body of a module-scoped fixture: database, seed, `smgov api`, stopped at the end."""
    from tests.test_separation import _Api

    folder = tmp_path_factory.mktemp("scim")
    databases = make_db(str(request.param), postgres, sqlite_template, folder)
    db_url = next(databases)
    held = seed(db_url, folder)
    env = environment(folder, db_url)
    api = _Api(env)
    try:
        yield Scim(api.url, db_url, env), held
    finally:
        api.stop()
        for _ in databases:
            pass
