"""The SCIM 2.0 door (RFC 7643/7644) at /scim/v2 in `smgov api`: the identity provider
(Microsoft Entra ID, Okta) provisions staff members as Users.

Authenticated by a bearer token (SMGOV_SCIM_TOKEN, compared in constant time; unset or blank:
the door is off and answers 404). Resources, messages, errors, PATCH and filters come from
scim2-models; this module only parses, calls services.staff (one transaction per request, off the
event loop) and renders. Bodies are read up to 1 MB. Every refusal is a SCIM error with its
`scimType`, and nothing is written.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Email,
    EnterpriseUser,
    Error,
    ETag,
    Filter,
    InvalidFilterException,
    InvalidSyntaxException,
    InvalidValueException,
    Meta,
    Name,
    NotFoundException,
    Patch,
    PatchOp,
    ResourceType,
    ResponseParameters,
    SCIMException,
    ScimFilter,
    ServiceProviderConfig,
    Sort,
    User,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from models.clock import system_now
from models.errors import NotFound, Refused
from models.ids import MAX_ID, row_id
from models.languages import official_language
from models.settings import Settings
from services import staff as staff_service
from services.context import unit_of_work

PREFIX = "/scim/v2"
MAX_BODY = 1_000_000  # bytes
MIN_TOKEN = 32  # bytes
MAX_COUNT = 1000
MEDIA = "application/scim+json"
UserResource = User[EnterpriseUser]
Events = Callable[[list[tuple[str, str, str]]], None]
log = logging.getLogger("smgov.scim")


def scim_token(config: Settings) -> bytes | None:
    """The door's token, or None when SCIM is off (unset or blank); a short one is refused."""
    if config.scim_token is None:
        return None
    token = config.scim_token.get_secret_value().strip()
    if not token:
        return None
    if len(token.encode()) < MIN_TOKEN:
        raise Refused("SMGOV_SCIM_TOKEN", f"must be at least {MIN_TOKEN} bytes (a random secret)")
    return token.encode()


def _scim(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def _error(exc: Exception) -> JSONResponse:
    """A SCIM error response (RFC 7644 3.12) for whatever refused the request."""
    if isinstance(exc, SCIMException):
        error = exc.to_error()
    elif isinstance(exc, ValidationError):
        error = Error.from_validation_errors(exc)[0]
    elif isinstance(exc, NotFound):
        error = Error(status=404, detail=str(exc))
    elif isinstance(exc, staff_service.Conflict):
        error = Error(status=409, scim_type="uniqueness", detail=str(exc))
    elif isinstance(exc, staff_service.Immutable):
        error = Error(status=400, scim_type="mutability", detail=str(exc))
    elif isinstance(exc, staff_service.Stale):
        error = Error(status=412, detail=str(exc))
    elif isinstance(exc, staff_service.BadFilter):
        error = Error(status=400, scim_type="invalidFilter", detail=str(exc))
    elif isinstance(exc, Refused):
        error = Error(status=400, scim_type="invalidValue", detail=str(exc))
    else:  # pragma: no cover - the catch-all below logs it
        error = Error(status=500, detail="internal error")
    body = error.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return _scim(body, status=int(error.status or 400))


def _version(rec: staff_service.Record) -> str:
    return f'W/"{rec.version}"'


def _resource(rec: staff_service.Record, base: str) -> Any:
    """The staff member as a SCIM User with the enterprise extension."""
    user = UserResource(
        id=rec.index,
        external_id=rec.index,
        user_name=rec.user_name,
        display_name=rec.name,
        name=Name(formatted=rec.name),
        preferred_language=rec.language,
        active=rec.active,
        emails=[Email(value=rec.email, type=Email.Type.work, primary=True)],
        meta=Meta(
            resource_type="User",
            created=rec.created_at,
            last_modified=rec.modified_at,
            version=_version(rec),
            location=f"{base}/Users/{rec.index}",
        ),
    )
    user[EnterpriseUser] = EnterpriseUser(employee_number=rec.index, department=rec.department)
    return user


def _person(user: Any, current: staff_service.Record | None = None) -> staff_service.Person:
    """The staff member a SCIM User describes: externalId (or employeeNumber) is the index
    number, the primary work e-mail (else userName) the address, displayName or name the name."""
    extension = user[EnterpriseUser] if user[EnterpriseUser] else None
    index = user.external_id or (extension.employee_number if extension else None)
    if not index and current is not None:
        index = current.index
    if not index:
        raise InvalidValueException(detail="externalId: the staff index number is required")
    emails = user.emails or []
    chosen = next((e for e in emails if e.primary), None) or next(
        (e for e in emails if str(e.type or "") == "work"), None
    )
    email = str(chosen.value) if chosen and chosen.value else (user.user_name or "")
    name = user.display_name or (user.name.formatted if user.name else None)
    if not name and user.name:
        name = " ".join(p for p in (user.name.given_name, user.name.family_name) if p)
    if not name:
        name = current.name if current else (user.user_name or "")
    language = user.preferred_language or user.locale
    return staff_service.Person(
        index=str(index),
        name=name,
        email=email,
        user_name=user.user_name,
        language=official_language(language) if language or current is None else current.language,
        department=extension.department if extension else None,
        active=user.active if user.active is not None else (current.active if current else True),
    )


#: User and enterprise attributes smgov does not keep (Entra ID's default mappings send several:
#: title, phone numbers, addresses, manager). PATCH operations on them are accepted and ignored,
#: as POST and PUT drop them before validating; unknown attributes remain errors.
UNKEPT = frozenset(
    name.lower()
    for name in (
        "title",
        "nickName",
        "profileUrl",
        "userType",
        "timezone",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
        "costCenter",
        "organization",
        "division",
        "manager",
    )
)


def _root(path: str) -> str:
    """The attribute a PATCH path starts from: `urn:...:User:manager` -> `manager`,
    `addresses[type eq "work"].formatted` -> `addresses`, `name.givenName` -> `name`."""
    head = path.split("[", 1)[0]
    if head.lower().startswith("urn:"):
        head = head.rsplit(":", 1)[-1]
    return head.split(".", 1)[0].strip().lower()


def _kept_operations(payload: dict[str, Any]) -> dict[str, Any]:
    """The PATCH request without the operations (or no-path values) on attributes not kept."""
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    kept: list[Any] = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        path = operation.get("path")
        value = operation.get("value")
        if isinstance(path, str) and path.strip():
            if _root(path) not in UNKEPT:
                kept.append(operation)
        elif isinstance(value, dict):
            rest = {k: v for k, v in value.items() if _root(str(k)) not in UNKEPT}
            for key, inner in value.items():
                if str(key).lower().startswith("urn:") and isinstance(inner, dict):
                    rest[key] = {k: v for k, v in inner.items() if k.lower() not in UNKEPT}
            if rest:
                kept.append({**operation, "value": rest})
        else:
            kept.append(operation)
    if operations and not kept:  # everything was about what smgov does not keep
        kept = [{"op": "add", "value": {}}]
    return {**payload, "Operations": kept}


def _kept_resource(payload: dict[str, Any]) -> dict[str, Any]:
    """A POST or PUT body without the attributes smgov does not keep (see UNKEPT)."""
    out = {k: v for k, v in payload.items() if str(k).lower() not in UNKEPT}
    for key, inner in payload.items():
        if str(key).lower().startswith("urn:") and isinstance(inner, dict):
            out[key] = {k: v for k, v in inner.items() if str(k).lower() not in UNKEPT}
    return out


def _attributes(request: Request) -> ResponseParameters[Any] | None:
    """The `attributes` / `excludedAttributes` query parameters (RFC 7644 3.9)."""
    params: dict[str, list[str]] = {}
    for key in ("attributes", "excludedAttributes"):
        raw = request.query_params.get(key)
        if raw:
            params[key] = [a.strip() for a in raw.split(",") if a.strip()]
    if not params:
        return None
    try:
        return ResponseParameters[UserResource].model_validate(params)
    except ValidationError as exc:
        raise InvalidValueException(detail=f"attributes: {exc.errors()[0]['msg']}") from exc


def _dump(user: Any, request: Request, scim_ctx: Context) -> dict[str, Any]:
    return user.model_dump(  # type: ignore[no-any-return]
        scim_ctx=scim_ctx, response_parameters=_attributes(request)
    )


def _expected(request: Request) -> int | None:
    """The version an If-Match header names (W/"3"), if any."""
    given = request.headers.get("if-match", "").strip()
    if not given or given == "*":
        return None
    digits = given.removeprefix("W/").strip('"')
    version = row_id(digits)
    if version is None:  # not a number, or more than any version a record can have reached
        raise InvalidValueException(detail="If-Match: not a version this service gave")
    return version


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object in the body, read up to MAX_BODY bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 12 or int(declared) > MAX_BODY):
        raise _TooLarge
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > MAX_BODY:
            raise _TooLarge
    try:
        payload = json.loads(bytes(data))
    except (ValueError, RecursionError) as exc:
        raise InvalidSyntaxException(detail="the body is not JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidSyntaxException(detail="the body must be a JSON object")
    return payload


class _TooLargeError(SCIMException):
    status = 413
    _default_detail = f"the body is larger than {MAX_BODY} bytes"


_TooLarge = _TooLargeError()


def _config(base: str) -> dict[str, Any]:
    spc = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="the secret token SMGOV_SCIM_TOKEN",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )
    return spc.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _resource_type(base: str) -> dict[str, Any]:
    rtype = ResourceType.from_resource(UserResource)
    rtype.meta = Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/User")
    return rtype.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _schemas(base: str) -> list[dict[str, Any]]:
    out = []
    for model in (User, EnterpriseUser):
        schema = model.to_schema()
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
        out.append(schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
    return out


def _listed(resources: list[Any], total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _int(request: Request, key: str, default: int) -> int:
    """An integer query parameter, within what a database can count (a larger one is refused,
    never sent to it: the driver would fail on it)."""
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return default
    value = None
    if len(raw) <= 24:  # Python refuses to parse 4,300 digits or more
        try:
            value = int(raw)
        except ValueError:
            value = None
    if value is None or not -MAX_ID <= value <= MAX_ID:
        raise InvalidValueException(detail=f"{key}: must be an integer of at most 19 digits")
    return value


def router(config: Settings, engine: Engine, on_events: Events) -> APIRouter:
    """The SCIM routes; `on_events` hands recorded HR events to the dispatcher's follow-up."""
    token = scim_token(config)
    api = APIRouter(prefix=PREFIX)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/") + PREFIX

    def guard(request: Request) -> JSONResponse | None:
        if token is None:
            return _error(NotFoundException(detail="SCIM is not configured here"))
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
            response = _scim(
                Error(status=401, detail="a valid bearer token is required").model_dump(
                    scim_ctx=Context.RESOURCE_QUERY_RESPONSE
                ),
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="smgov SCIM"'},
            )
            return response
        return None

    async def serve(request: Request, work: Callable[[], Response]) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        try:
            return await run_in_threadpool(work)
        except (SCIMException, ValidationError, Refused) as exc:
            return _error(exc)
        except IntegrityError:  # a concurrent request wrote the same index number or address
            return _error(staff_service.Conflict("id", "was written by another request meanwhile"))
        except Exception:
            log.exception("SCIM %s %s failed", request.method, request.url.path)
            raise

    def transact(use_case: Callable[[Any], staff_service.Change]) -> staff_service.Change:
        with unit_of_work(engine, config, system_now()) as ctx:
            change = use_case(ctx)
        if change.events:
            on_events(change.events)  # the follow-up, as the webhook's events get
        return change

    def cause(request: Request) -> str:
        return f"SCIM {request.method} {request.url.path}"[:200]

    def answered(request: Request, change: staff_service.Change, status: int = 200) -> Response:
        rec = change.record
        headers = {"ETag": _version(rec)}
        if status == 201:
            headers["Location"] = f"{base(request)}/Users/{rec.index}"
        body = _dump(_resource(rec, base(request)), request, Context.RESOURCE_QUERY_RESPONSE)
        return _scim(body, status=status, headers=headers)

    @api.get("/ServiceProviderConfig")
    async def service_provider_config(request: Request) -> Response:
        return await serve(request, lambda: _scim(_config(base(request))))

    @api.get("/ResourceTypes")
    async def resource_types(request: Request) -> Response:
        return await serve(request, lambda: _scim(_listed([_resource_type(base(request))], 1, 1)))

    @api.get("/ResourceTypes/{name}")
    async def resource_type(request: Request, name: str) -> Response:
        def work() -> Response:
            if name != "User":
                raise NotFoundException(detail=f"no resource type {name}")
            return _scim(_resource_type(base(request)))

        return await serve(request, work)

    @api.get("/Schemas")
    async def schemas(request: Request) -> Response:
        return await serve(request, lambda: _scim(_listed(_schemas(base(request)), 2, 1)))

    @api.get("/Schemas/{uri}")
    async def schema(request: Request, uri: str) -> Response:
        def work() -> Response:
            for item in _schemas(base(request)):
                if item["id"] == uri:
                    return _scim(item)
            raise NotFoundException(detail=f"no schema {uri}")

        return await serve(request, work)

    @api.post("/Users")
    async def create_user(request: Request) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        try:
            payload = await _body(request)
        except SCIMException as exc:
            return _error(exc)

        def work() -> Response:
            user = UserResource.model_validate(
                _kept_resource(payload), scim_ctx=Context.RESOURCE_CREATION_REQUEST
            )
            person = _person(user)
            change = transact(lambda c: staff_service.provision(c, person, cause=cause(request)))
            return answered(request, change, status=201)

        return await serve(request, work)

    @api.get("/Users")
    async def list_users(request: Request) -> Response:
        def work() -> Response:
            raw = request.query_params.get("filter")
            where = None
            if raw:
                try:
                    parsed = ScimFilter[UserResource](staff_service.check_filter(raw))
                    ast = parsed.ast
                except SCIMException:
                    raise
                except Exception as exc:
                    raise InvalidFilterException(detail=f"filter: {exc}") from exc
                where = staff_service.filter_clause(ast)
            start = max(_int(request, "startIndex", 1), 1)
            count = min(max(_int(request, "count", 100), 0), MAX_COUNT)
            with unit_of_work(engine, config, system_now()) as ctx:
                total, records = staff_service.search(ctx, where, start=start, count=count)
            resources = [
                _dump(_resource(r, base(request)), request, Context.SEARCH_RESPONSE)
                for r in records
            ]
            return _scim(_listed(resources, total, start))

        return await serve(request, work)

    @api.get("/Users/{index}")
    async def get_user(request: Request, index: str) -> Response:
        def work() -> Response:
            with unit_of_work(engine, config, system_now()) as ctx:
                rec = staff_service.get(ctx, index)
            return answered(request, staff_service.Change(rec))

        return await serve(request, work)

    @api.put("/Users/{index}")
    async def replace_user(request: Request, index: str) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        try:
            payload = await _body(request)
        except SCIMException as exc:
            return _error(exc)

        def work() -> Response:
            user = UserResource.model_validate(
                _kept_resource(payload), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
            )
            change = transact(
                lambda c: staff_service.update(
                    c,
                    index,
                    lambda rec: _person(user, rec),
                    cause=cause(request),
                    expected_version=_expected(request),
                )
            )
            return answered(request, change)

        return await serve(request, work)

    @api.patch("/Users/{index}")
    async def patch_user(request: Request, index: str) -> Response:
        refused = guard(request)
        if refused is not None:
            return refused
        try:
            payload = await _body(request)
        except SCIMException as exc:
            return _error(exc)

        def work() -> Response:
            patch = PatchOp[UserResource].model_validate(
                _kept_operations(payload), scim_ctx=Context.RESOURCE_PATCH_REQUEST
            )

            def patched(rec: staff_service.Record) -> staff_service.Person:
                user = _resource(rec, "")
                patch.patch(user)
                return _person(user, rec)

            change = transact(
                lambda c: staff_service.update(
                    c, index, patched, cause=cause(request), expected_version=_expected(request)
                )
            )
            return answered(request, change)

        return await serve(request, work)

    @api.delete("/Users/{index}")
    async def delete_user(request: Request, index: str) -> Response:
        def work() -> Response:
            transact(
                lambda c: staff_service.deactivate(
                    c, index, cause=cause(request), expected_version=_expected(request)
                )
            )
            return Response(status_code=204)

        return await serve(request, work)

    return api
