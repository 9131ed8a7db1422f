"""SCIM 2.0 provisioning from the identity provider (issue 21): the requests Microsoft Entra ID's
provisioning service sends, against a real `smgov api` process, on SQLite and PostgreSQL —
joiners, movers and leavers through the HR inbox and its rules (4.2, 3.7)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AUDIT_KEY, SESSION_KEY
from tests.scim_server import ENTERPRISE, PATCH, TOKEN, Scim, entra_user, serve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest,
    postgres: Any,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    prefect_api: str,
) -> Iterator[tuple[Scim, dict[str, int]]]:
    """One `smgov api` per backend for the whole module, with the seeded registry."""
    yield from serve(request, postgres, sqlite_template, tmp_path_factory)


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def _until(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


class TestEntraLifecycle:
    def test_create_match_update_disable_delete(self, server: tuple[Scim, dict[str, int]]) -> None:
        """Entra ID's sequence for a joiner: a filter on userName finds nobody, POST creates the
        staff member (201, Location, ETag), the same filter then finds them, PATCH with path
        updates the e-mail and a Replace without path the name, "False" as a string disables,
        DELETE answers 204 and the record remains as a separated staff member."""
        scim, _ = server
        name = "Test_User_ab6490ee@un.example"
        empty = scim.call("GET", f'/Users?filter=userName eq "{name}"')
        assert empty.status == 200 and empty.body["totalResults"] == 0
        made = scim.call(
            "POST",
            "/Users",
            entra_user(
                "300001",
                name,
                **{
                    "displayName": "Ana Joiner",
                    "preferredLanguage": "fr-CH",
                    ENTERPRISE: {"department": "ohchr"},
                },
            ),
        )
        assert made.status == 201, made.body
        assert made.headers["location"].endswith("/scim/v2/Users/300001")
        assert made.headers["content-type"].startswith("application/scim+json")
        assert made.body["id"] == "300001" and made.body["externalId"] == "300001"
        assert made.body["meta"]["version"] == made.headers["etag"]
        staff = scim.rows(
            "SELECT entity_code, language, status FROM staff WHERE index_number = '300001'"
        )
        assert staff == [("OHCHR", "fr", "active")]  # dgc is DGC: department matched any case
        found = scim.call("GET", f'/Users?filter=userName eq "{name.upper()}"')
        assert found.body["totalResults"] == 1 and found.body["Resources"][0]["id"] == "300001"
        again = scim.call("POST", "/Users", entra_user("300001", name))
        assert again.status == 409 and again.body["scimType"] == "uniqueness"
        changed = scim.call(
            "PATCH",
            "/Users/300001",
            _patch(
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "ana@un.example",
                },
                {"op": "Replace", "value": {"displayName": "Ana Mover"}},
            ),
        )
        assert changed.status == 200, changed.body
        assert changed.body["emails"][0]["value"] == "ana@un.example"
        assert changed.body["displayName"] == "Ana Mover"
        assert changed.headers["etag"] != made.headers["etag"]
        disabled = scim.call(
            "PATCH", "/Users/300001", _patch({"op": "Replace", "path": "active", "value": "False"})
        )
        assert disabled.status == 200 and disabled.body["active"] is False
        assert scim.rows("SELECT status FROM staff WHERE index_number = '300001'") == [
            ("separated",)
        ]
        gone = scim.call("DELETE", "/Users/300001")
        assert gone.status == 204
        assert scim.call("DELETE", "/Users/300001").status == 204  # idempotent
        events = scim.rows("SELECT type, source FROM hr_event WHERE staff_index = '300001'")
        assert events == [("separation", "directory")]
        assert scim.call("GET", "/Users/999999").status == 404

    @pytest.mark.clause("4.2")
    def test_disabled_administrator_loses_authorization_at_once(
        self, server: tuple[Scim, dict[str, int]]
    ) -> None:
        """An administrator disabled in Entra ID (PATCH active "False", op "Replace"): their
        written authorizations are withdrawn before the PATCH answers, the accounts get their
        credential handover duties (assigned to the alternate) within the minute, the audit
        names the SCIM request, and a repeated PATCH records nothing new."""
        scim, held = server
        answer = scim.call(
            "PATCH", "/Users/100002", _patch({"op": "Replace", "path": "active", "value": "False"})
        )
        assert answer.status == 200 and answer.body["active"] is False
        still = scim.rows(
            "SELECT count(*) FROM written_authorization WHERE staff_index = '100002' "
            "AND revoked_at IS NULL"
        )
        assert still == [(0,)]
        handovers = _until(
            lambda: scim.rows(
                "SELECT subject, assignee FROM obligation WHERE kind = 'credential-handover' "
                "AND state = 'open' AND subject IN (:a, :b)",
                a=f"account:{held['first']}",
                b=f"account:{held['second']}",
            ),
            60,
        )
        assert sorted(handovers) == sorted(
            [(f"account:{held['first']}", "100003"), (f"account:{held['second']}", "100003")]
        )
        audit = scim.rows(
            "SELECT after FROM audit_event WHERE action = 'staff.separation' "
            "AND subject = 'staff:100002'"
        )
        assert len(audit) == 1 and "SCIM PATCH /scim/v2/Users/100002" in audit[0][0]
        stored = scim.rows("SELECT before, after FROM audit_event") + scim.rows(
            "SELECT event_id, source FROM hr_event"
        )
        assert TOKEN not in str(stored)  # the bearer token is never stored
        repeat = scim.call(
            "PATCH", "/Users/100002", _patch({"op": "replace", "path": "active", "value": False})
        )
        assert repeat.status == 200
        assert scim.rows("SELECT count(*) FROM hr_event WHERE staff_index = '100002'") == [(1,)]

    @pytest.mark.clause("3.7")
    def test_reactivation_is_a_return_without_rights(
        self, server: tuple[Scim, dict[str, int]]
    ) -> None:
        """Re-enabled in the directory (a return): the staff member is active again, and none
        of the written authorizations withdrawn at separation comes back (3.7)."""
        scim, _ = server
        scim.call("DELETE", "/Users/100003")
        assert scim.rows("SELECT status FROM staff WHERE index_number = '100003'") == [
            ("separated",)
        ]
        back = scim.call(
            "PATCH", "/Users/100003", _patch({"op": "Replace", "path": "active", "value": "True"})
        )
        assert back.status == 200 and back.body["active"] is True
        assert scim.rows("SELECT status FROM staff WHERE index_number = '100003'") == [("active",)]
        assert scim.rows(
            "SELECT count(*) FROM written_authorization WHERE staff_index = '100003' "
            "AND revoked_at IS NULL"
        ) == [(0,)]
        kinds = scim.rows("SELECT type FROM hr_event WHERE staff_index = '100003' ORDER BY id")
        assert kinds == [("separation",), ("return",)]

    @pytest.mark.clause("4.2")
    def test_department_change_is_a_reassignment(self, server: tuple[Scim, dict[str, int]]) -> None:
        """The directory moves a staff member to another department, named as Entra ID names
        it (an alias): they are reassigned to that entity and lose their authorizations for
        accounts of the entity they left (4.2)."""
        scim, _ = server
        alias = subprocess.run(
            [
                sys.executable,
                "-m",
                "smgov.cli",
                "entity",
                "alias",
                "dgc",
                "--directory-name",
                "Department of Global Communications",
            ],
            env=scim.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert alias.returncode == 0, alias.stderr
        moved = scim.call(
            "PATCH",
            "/Users/100004",
            _patch(
                {
                    "op": "Add",
                    "path": f"{ENTERPRISE}:department",
                    "value": "Department of Global Communications",
                }
            ),
        )
        assert moved.status == 200, moved.body
        assert scim.rows("SELECT entity_code, status FROM staff WHERE index_number = '100004'") == [
            ("DGC", "active")
        ]
        assert scim.rows(
            "SELECT count(*) FROM written_authorization WHERE staff_index = '100004' "
            "AND revoked_at IS NULL"
        ) == [(0,)]
        assert scim.rows("SELECT type, new_entity FROM hr_event WHERE staff_index = '100004'") == [
            ("reassignment", "DGC")
        ]

    def test_unknown_department_is_provisioned_and_flagged(
        self, server: tuple[Scim, dict[str, int]]
    ) -> None:
        """A department no entity answers to: the user is provisioned, unplaced, and listed by
        `smgov staff list --unplaced`; naming the alias places them."""
        scim, _ = server
        made = scim.call(
            "POST",
            "/Users",
            entra_user(
                "300002",
                "new.joiner@un.example",
                **{ENTERPRISE: {"department": "Office of Counter-Terrorism"}},
            ),
        )
        assert made.status == 201, made.body
        listed = subprocess.run(
            [sys.executable, "-m", "smgov.cli", "staff", "list", "--unplaced", "--json"],
            env=scim.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        assert '"300002"' in listed.stdout and "Office of Counter-Terrorism" in listed.stdout


class TestEntraMappings:
    def test_default_mappings_smgov_does_not_keep_are_accepted(
        self, server: tuple[Scim, dict[str, int]]
    ) -> None:
        """Entra ID's default attribute mappings also send title, work phone and address and
        the manager (as a bare id); smgov keeps none of them and accepts them all, on create and
        on update, so provisioning does not fail for them. The matching query Entra ID sends
        encodes spaces as '+'."""
        scim, _ = server
        made = scim.call(
            "POST",
            "/Users",
            entra_user(
                "300003",
                "mapped@un.example",
                **{
                    "title": "Officer",
                    "phoneNumbers": [{"type": "work", "value": "+41 22 917 1234"}],
                    ENTERPRISE: {"department": "OHCHR", "manager": {"value": "100001"}},
                },
            ),
        )
        assert made.status == 201, made.body
        answer = scim.call(
            "PATCH",
            "/Users/300003",
            _patch(
                {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+41 22 1"},
                {"op": "Add", "path": 'addresses[type eq "work"].formatted', "value": "Geneva"},
                {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "100001"},
                {"op": "Add", "path": "title", "value": "Chief"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            ),
        )
        assert answer.status == 200, answer.body
        found = scim.call("GET", '/Users?filter=userName+eq+"mapped%40un.example"')
        assert found.body["totalResults"] == 1


class TestToken:
    def test_missing_or_wrong_token_is_refused(self, server: tuple[Scim, dict[str, int]]) -> None:
        """No bearer token, or another one: 401 with a SCIM error and nothing served."""
        scim, _ = server
        assert scim.call("GET", "/Users", token=None).status == 401
        wrong = scim.call("GET", "/Users", token=TOKEN[:-1] + "x")
        assert wrong.status == 401 and wrong.headers["www-authenticate"].startswith("Bearer")

    def test_short_token_refused_at_start(self, server: tuple[Scim, dict[str, int]]) -> None:
        """A token shorter than 32 bytes: `smgov api` does not start, one `error:` line."""
        scim, _ = server
        env = {**scim.env, "SMGOV_SCIM_TOKEN": "too-short"}
        proc = subprocess.run(
            [sys.executable, "-m", "smgov.cli", "api", "--port", "1"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: SMGOV_SCIM_TOKEN")
        assert TOKEN not in proc.stderr

    def test_blank_token_turns_scim_off(self, tmp_path: Path, server: tuple[Scim, Any]) -> None:
        """SMGOV_SCIM_TOKEN blank: the door is off (404), whatever token is sent."""
        from fastapi import FastAPI
        from fastapi.testclient import TestClient

        from database import make_engine
        from models.settings import Settings
        from smgov.scim import router

        scim, _ = server
        settings = Settings(
            home=tmp_path,
            database_url=scim.db_url,
            audit_key=AUDIT_KEY,
            session_secret=SESSION_KEY,
            scim_token="   ",
        )
        engine = make_engine(scim.db_url)
        app = FastAPI()
        app.include_router(router(settings, engine, lambda events: None))
        with TestClient(app) as client:
            answer = client.get("/scim/v2/Users", headers={"authorization": "Bearer    "})
        engine.dispose()
        assert answer.status_code == 404
