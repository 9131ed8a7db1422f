"""A SCIM 2.0 conformance suite for the User resource (RFC 7643 and RFC 7644), run against a real
`smgov api` process on SQLite and PostgreSQL: discovery, create, read, filter, paging, attribute
selection, replace, patch (add, replace, remove; with and without path), ETags, delete, and the
errors bad input must get (scimType, nothing written, never a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scim_server import CORE, ENTERPRISE, PATCH, Scim, entra_user, serve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest,
    postgres: Any,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    prefect_api: str,
) -> Iterator[Scim]:
    """One `smgov api` per backend for the whole module; users 4000xx are made by the tests."""
    for scim, _ in serve(request, postgres, sqlite_template, tmp_path_factory):
        for n in range(1, 6):
            made = scim.call(
                "POST", "/Users", entra_user(f"40000{n}", f"user{n}@conformance.example")
            )
            assert made.status == 201, made.body
        yield scim


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


# --- RFC 7644 section 4: discovery -----------------------------------------------------------

DISCOVERY = [
    ("/ServiceProviderConfig", "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"),
    ("/ResourceTypes", LIST),
    ("/ResourceTypes/User", "urn:ietf:params:scim:schemas:core:2.0:ResourceType"),
    ("/Schemas", LIST),
    (f"/Schemas/{CORE}", "urn:ietf:params:scim:schemas:core:2.0:Schema"),
    (f"/Schemas/{ENTERPRISE}", "urn:ietf:params:scim:schemas:core:2.0:Schema"),
]


@pytest.mark.parametrize(("path", "schema"), DISCOVERY)
def test_discovery_endpoint(server: Scim, path: str, schema: str) -> None:
    """RFC 7644 4: each discovery endpoint answers 200 in application/scim+json with its
    schema URN."""
    answer = server.call("GET", path)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/scim+json")
    assert schema in answer.body["schemas"]


def test_service_provider_config_announces_what_is_served(server: Scim) -> None:
    """RFC 7643 5: PATCH, filter and ETag supported; bulk, sort and password change not;
    the bearer token scheme."""
    body = server.call("GET", "/ServiceProviderConfig").body
    assert body["patch"]["supported"] and body["filter"]["supported"]
    assert body["etag"]["supported"] and not body["bulk"]["supported"]
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_type_user_with_enterprise_extension(server: Scim) -> None:
    """RFC 7643 6: the User resource type at /Users with the enterprise extension."""
    body = server.call("GET", "/ResourceTypes/User").body
    assert body["endpoint"] == "/Users" and body["schema"] == CORE
    assert body["schemaExtensions"][0]["schema"] == ENTERPRISE


@pytest.mark.parametrize("path", ["/ResourceTypes/Group", "/Schemas/urn:x:unknown"])
def test_unknown_discovery_resource_is_404(server: Scim, path: str) -> None:
    """RFC 7644 3.12: what is not served is a 404 SCIM error."""
    answer = server.call("GET", path)
    assert answer.status == 404 and ERROR in answer.body["schemas"]


# --- RFC 7644 3.3 and 3.4.1: create and read --------------------------------------------------


def test_create_returns_the_resource_with_meta(server: Scim) -> None:
    """RFC 7644 3.3: 201, the resource as stored, id, meta.created/lastModified/location/
    version, and the same version as the ETag header."""
    made = server.call("POST", "/Users", entra_user("400010", "created@conformance.example"))
    assert made.status == 201
    meta = made.body["meta"]
    assert made.body["id"] == "400010" and meta["resourceType"] == "User"
    assert meta["location"] == made.headers["location"]
    assert meta["version"] == made.headers["etag"] and meta["created"] and meta["lastModified"]
    read = server.call("GET", "/Users/400010")
    assert read.status == 200 and read.body == made.body


@pytest.mark.parametrize(
    ("change", "scim_type"),
    [
        ({"externalId": "400001"}, "uniqueness"),  # the same index number
        ({"userName": "USER1@conformance.example"}, "uniqueness"),  # userName, any case
    ],
)
def test_create_conflict(server: Scim, change: dict[str, Any], scim_type: str) -> None:
    """RFC 7644 3.3: a user that already exists is a 409 with scimType uniqueness."""
    body = entra_user("400011", "conflict@conformance.example")
    body.update(change)
    if "userName" in change:
        body["emails"][0]["value"] = change["userName"]
    answer = server.call("POST", "/Users", body)
    assert answer.status == 409 and answer.body["scimType"] == scim_type
    assert server.call("GET", "/Users/400011").status == 404


# --- RFC 7644 3.4.2: filter, paging, attributes ----------------------------------------------

FILTERS = [
    ('userName eq "user2@conformance.example"', ["400002"]),
    ('userName eq "USER2@CONFORMANCE.EXAMPLE"', ["400002"]),  # caseExact false
    ('externalId eq "400003"', ["400003"]),
    ('emails.value eq "user4@conformance.example"', ["400004"]),
    ('emails[type eq "work" and value eq "user4@conformance.example"]', ["400004"]),
    ('userName eq "user1@conformance.example" or externalId eq "400005"', ["400001", "400005"]),
    ('userName eq "user1@conformance.example" and externalId eq "400005"', []),
    ('userName sw "user3@" and active eq true', ["400003"]),
    ('not (externalId ne "400002") and userName co "conformance"', ["400002"]),
    ('id eq "400001"', ["400001"]),
    (
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "400004"',
        ["400004"],
    ),
]


@pytest.mark.parametrize(("expression", "ids"), FILTERS)
def test_filter(server: Scim, expression: str, ids: list[str]) -> None:
    """RFC 7644 3.4.2.2: eq on userName, externalId and emails.value, with and/or/not, value
    filters, co/sw, and a ListResponse with totalResults."""
    answer = server.call("GET", f"/Users?filter={expression}")
    assert answer.status == 200, answer.body
    assert LIST in answer.body["schemas"]
    assert sorted(r["id"] for r in answer.body["Resources"]) == ids
    assert answer.body["totalResults"] == len(ids)


def test_paging(server: Scim) -> None:
    """RFC 7644 3.4.2.4: startIndex is 1-based, count bounds the page, totalResults counts all."""
    everyone = server.call("GET", '/Users?filter=userName co "@conformance.example"').body
    page = server.call(
        "GET", '/Users?filter=userName co "@conformance.example"&startIndex=2&count=2'
    ).body
    assert page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert page["totalResults"] == everyone["totalResults"]
    assert [r["id"] for r in page["Resources"]] == [r["id"] for r in everyone["Resources"]][1:3]
    none = server.call("GET", "/Users?count=0").body
    assert none["Resources"] == [] and none["totalResults"] >= 5


def test_attributes_and_excluded_attributes(server: Scim) -> None:
    """RFC 7644 3.9: `attributes` returns those plus id and schemas; `excludedAttributes`
    leaves the named ones out."""
    only = server.call("GET", "/Users/400001?attributes=userName").body
    assert set(only) <= {"schemas", "id", "userName"} and only["userName"]
    without = server.call("GET", "/Users/400001?excludedAttributes=emails,name").body
    assert "emails" not in without and "name" not in without and "userName" in without


# --- RFC 7644 3.5: replace and modify --------------------------------------------------------


def test_put_replaces(server: Scim) -> None:
    """RFC 7644 3.5.1: PUT replaces the modifiable attributes and returns the new version."""
    before = server.call("GET", "/Users/400005")
    body = entra_user("400005", "user5@conformance.example", displayName="Replaced Name")
    answer = server.call("PUT", "/Users/400005", body)
    assert answer.status == 200 and answer.body["displayName"] == "Replaced Name"
    assert answer.body["meta"]["version"] != before.body["meta"]["version"]


PATCHES = [
    ({"op": "replace", "path": "displayName", "value": "P One"}, "displayName", "P One"),
    ({"op": "Replace", "path": "displayName", "value": "P Two"}, "displayName", "P Two"),
    ({"op": "add", "path": "displayName", "value": "P Three"}, "displayName", "P Three"),
    ({"op": "replace", "value": {"displayName": "P Four"}}, "displayName", "P Four"),
    ({"op": "Add", "value": {"preferredLanguage": "es-419"}}, "preferredLanguage", "es"),
    ({"op": "replace", "path": "preferredLanguage", "value": "de-CH"}, "preferredLanguage", "en"),
    (
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "p@conformance.example"},
        "emails",
        [{"value": "p@conformance.example", "type": "work", "primary": True}],
    ),
    (
        {"op": "replace", "path": "userName", "value": "u@conformance.example"},
        "userName",
        "u@conformance.example",
    ),
]


@pytest.mark.parametrize(("operation", "key", "expected"), PATCHES)
def test_patch(server: Scim, operation: dict[str, Any], key: str, expected: Any) -> None:
    """RFC 7644 3.5.2: add and replace, with a path, a value filter, or none; op names in any
    case (Entra ID sends "Replace"); BCP 47 languages map to an official language."""
    answer = server.call("PATCH", "/Users/400004", _patch(operation))
    assert answer.status == 200, answer.body
    assert answer.body[key] == expected


def test_patch_remove_department(server: Scim) -> None:
    """RFC 7644 3.5.2.2: remove with a path; the department is removed from the directory's
    view while the registry keeps the entity."""
    server.call(
        "PATCH",
        "/Users/400003",
        _patch({"op": "add", "path": f"{ENTERPRISE}:department", "value": "Unknown Unit"}),
    )
    answer = server.call(
        "PATCH", "/Users/400003", _patch({"op": "remove", "path": f"{ENTERPRISE}:department"})
    )
    assert answer.status == 200, answer.body


def test_etag_precondition(server: Scim) -> None:
    """RFC 7644 3.14: If-Match with a stale version is refused with 412 and changes nothing;
    with the current version the change is made."""
    current = server.call("GET", "/Users/400002")
    changed = server.call(
        "PATCH", "/Users/400002", _patch({"op": "replace", "path": "displayName", "value": "First"})
    )
    stale = server.call(
        "PATCH",
        "/Users/400002",
        _patch({"op": "replace", "path": "displayName", "value": "Stale"}),
        headers={"If-Match": current.headers["etag"]},
    )
    assert stale.status == 412
    fresh = server.call(
        "PATCH",
        "/Users/400002",
        _patch({"op": "replace", "path": "displayName", "value": "Fresh"}),
        headers={"If-Match": changed.headers["etag"]},
    )
    assert fresh.status == 200 and fresh.body["displayName"] == "Fresh"


@pytest.mark.parametrize("version", ["9" * 26, "9" * 4301, "\u00b2"])
def test_etag_beyond_any_version(server: Scim, version: str) -> None:
    """RFC 7644 3.14: an If-Match naming a version no record can have reached (more than a
    64-bit integer; 4,301 digits, past what Python parses; a superscript digit) is refused with
    400 and changes nothing, never a 500."""
    before = server.call("GET", "/Users/400004")
    for method, body in (
        ("PATCH", _patch({"op": "replace", "path": "displayName", "value": "Nobody"})),
        ("DELETE", None),
    ):
        answer = server.call(method, "/Users/400004", body, headers={"If-Match": f'W/"{version}"'})
        assert answer.status == 400 and answer.body.get("scimType") == "invalidValue", answer.body
    assert server.call("GET", "/Users/400004").body == before.body


def test_delete(server: Scim) -> None:
    """RFC 7644 3.6: DELETE answers 204; the person is separated (kept for the registry's
    history, active false) and a second DELETE changes nothing."""
    assert server.call("DELETE", "/Users/400010").status == 204
    assert server.call("GET", "/Users/400010").body["active"] is False
    assert server.call("DELETE", "/Users/400010").status == 204
    assert server.call("DELETE", "/Users/499999").status == 404


# --- RFC 7644 3.12: bad input -----------------------------------------------------------------

BAD = [
    ("POST", "/Users", b"{not json", 400, "invalidSyntax"),
    ("POST", "/Users", b"[1, 2]", 400, "invalidSyntax"),
    ("POST", "/Users", b"[" * 100_000, 400, "invalidSyntax"),
    ("POST", "/Users", {"favouriteColour": "blue"}, 400, "invalidSyntax"),
    ("POST", "/Users", {"userName": 12}, 400, "invalidValue"),
    ("POST", "/Users", {"active": "maybe"}, 400, "invalidValue"),
    (
        "POST",
        "/Users",
        {"emails": [{"value": "not-an-address", "type": "work"}]},
        400,
        "invalidValue",
    ),
    ("POST", "/Users", {"externalId": "has spaces in it"}, 400, "invalidValue"),
    ("POST", "/Users", {"id": "x", "meta": {"resourceType": 5}}, 400, "invalidValue"),
    (
        "PATCH",
        "/Users/400001",
        _patch({"op": "jump", "path": "displayName", "value": "x"}),
        400,
        "invalidValue",
    ),
    (
        "PATCH",
        "/Users/400001",
        _patch({"op": "replace", "path": "displayName[", "value": "x"}),
        400,
        "invalidPath",
    ),
    (
        "PATCH",
        "/Users/400001",
        _patch({"op": "replace", "path": "externalId", "value": "400002"}),
        400,
        "mutability",
    ),
    (
        "PATCH",
        "/Users/400001",
        _patch({"op": "replace", "path": "active", "value": "sometimes"}),
        400,
        "invalidValue",
    ),
    (
        "PATCH",
        "/Users/400001",
        _patch({"op": "add", "path": "favouriteColour", "value": "blue"}),
        400,
        "invalidPath",
    ),
    ("PUT", "/Users/400001", b"\xff\xfe", 400, "invalidSyntax"),
    ("GET", "/Users?filter=userName eq", None, 400, "invalidFilter"),
    ("GET", '/Users?filter=userName eq "x" and', None, 400, "invalidFilter"),
    ("GET", '/Users?filter=title eq "x"', None, 400, "invalidFilter"),
    # hostile filters the database refused with an error (a 500): a LIKE pattern of 50,000
    # characters, 1,000 comparisons; and 60 comparisons, short, over the bound of 50
    ("GET", '/Users?filter=userName sw "' + "a" * 50_000 + '"', None, 400, "invalidFilter"),
    ("GET", "/Users?filter=" + " or ".join(["userName pr"] * 1_000), None, 400, "invalidFilter"),
    ("GET", "/Users?filter=" + " or ".join(["userName pr"] * 60), None, 400, "invalidFilter"),
    ("GET", "/Users?startIndex=one", None, 400, "invalidValue"),
    # beyond a 64-bit integer: the database driver overflowed (500) before the bound
    ("GET", "/Users?startIndex=9223372036854775809", None, 400, "invalidValue"),
    ("GET", "/Users?count=" + "9" * 5000, None, 400, "invalidValue"),
    ("GET", "/Users?attributes=no..such", None, 400, "invalidValue"),
    ("POST", "/Users", b'{"userName": "' + b"a" * 1_100_000 + b'"}', 413, None),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "scim_type"), BAD)
def test_bad_input(
    server: Scim, method: str, path: str, body: Any, status: int, scim_type: str | None
) -> None:
    """RFC 7644 3.12: malformed JSON, unknown attributes, wrong types, a filter that does not
    parse, an oversized body: the right SCIM error, nothing written, never a 500."""
    counted = "SELECT (SELECT count(*) FROM staff), (SELECT count(*) FROM audit_event)"
    before = server.rows(counted)
    if isinstance(body, dict) and method == "POST":
        body = {**entra_user("400099", "bad@conformance.example"), **body}
    raw = body if isinstance(body, bytes) else None
    answer = server.call(method, path, None if raw is not None else body, raw=raw)
    assert answer.status == status, answer.body
    assert ERROR in answer.body["schemas"] and answer.body["status"] == str(status)
    assert answer.body.get("scimType") == scim_type
    assert server.rows(counted) == before
