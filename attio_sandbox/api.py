"""Attio's REST v2 routes that the bridge uses, with Attio's paths, bodies and error codes.

Bodies are parsed by hand instead of through pydantic models so that every malformed request
gets Attio's error envelope (400 `validation_type`) rather than FastAPI's 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from attio_sandbox.bodies import (
    data_object,
    non_negative_int,
    ok,
    read_json,
    record_values,
    sandbox_state,
)
from attio_sandbox.errors import validation_error
from attio_sandbox.render import (
    render_attribute,
    render_object,
    render_option,
    render_record,
    render_values,
)

router = APIRouter(prefix="/v2")

# Attio's OpenAPI document enumerates the currency codes an attribute may default to.
CURRENCY_CODES = frozenset(
    {
        "ARS",
        "AUD",
        "BRL",
        "BGN",
        "CAD",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EUR",
        "HKD",
        "HUF",
        "ISK",
        "INR",
        "ILS",
        "JPY",
        "KES",
        "KRW",
        "MYR",
        "MXN",
        "NTD",
        "NZD",
        "NGN",
        "NOK",
        "XPF",
        "PEN",
        "PHP",
        "PLN",
        "GBP",
        "RWF",
        "SAR",
        "SGD",
        "ZAR",
        "SEK",
        "CHF",
        "THB",
        "AED",
        "UYU",
        "USD",
    }
)
_DISPLAY_TYPES = frozenset({"code", "name", "narrowSymbol", "symbol"})
_ATTRIBUTE_REQUIRED = (
    "title",
    "description",
    "api_slug",
    "type",
    "is_required",
    "is_unique",
    "is_multiselect",
    "config",
)
_ATTRIBUTE_OPTIONAL = ("default_value", "relationship")


def _string(data: dict[str, Any], key: str, *, nullable: bool = False) -> Any:
    value = data.get(key)
    if not (isinstance(value, str) or (nullable and value is None)):
        raise validation_error(f'"{key}" must be a string{" or null" if nullable else ""}.')
    return value


def _boolean(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise validation_error(f'"{key}" must be true or false.')
    return value


# Identity ------------------------------------------------------------------------------


@router.get("/self")
async def get_self(request: Request) -> JSONResponse:
    state = sandbox_state(request)
    config = state.config
    payload = {
        "active": True,
        "scope": " ".join(config.scopes),
        "client_id": config.client_id,
        "token_type": "Bearer",
        "exp": None,
        "iat": state.issued_at,
        "sub": config.workspace_id,
        "aud": config.client_id,
        "iss": "attio.com",
        "authorized_by_workspace_member_id": config.workspace_member_id,
        "workspace_id": config.workspace_id,
        "workspace_name": config.workspace_name,
        "workspace_slug": config.workspace_slug,
        "workspace_logo_url": None,
    }
    return JSONResponse(payload)


# Objects -------------------------------------------------------------------------------


@router.get("/objects")
async def list_objects(request: Request) -> JSONResponse:
    store = sandbox_state(request).store
    return ok([render_object(store, obj) for obj in store.objects.values()])


@router.post("/objects")
async def create_object(request: Request) -> JSONResponse:
    store = sandbox_state(request).store
    data = data_object(await read_json(request))
    api_slug = _string(data, "api_slug")
    nouns = [_string(data, key) for key in ("singular_noun", "plural_noun")]
    if not all(nouns):
        raise validation_error("singular_noun and plural_noun must not be empty.")
    obj = store.create_object(api_slug, nouns[0], nouns[1])
    return ok(render_object(store, obj))


@router.get("/objects/{obj}")
async def get_object(request: Request, obj: str) -> JSONResponse:
    store = sandbox_state(request).store
    return ok(render_object(store, store.get_object(obj)))


# Attributes and options ----------------------------------------------------------------


@router.get("/objects/{obj}/attributes")
async def list_attributes(request: Request, obj: str) -> JSONResponse:
    store = sandbox_state(request).store
    found = store.get_object(obj)
    params = request.query_params
    offset = non_negative_int(params.get("offset"), "offset", 0)
    limit = non_negative_int(params.get("limit"), "limit", len(found.attributes))
    # Nothing is ever archived here, so show_archived changes nothing; it is still checked.
    if params.get("show_archived", "false") not in ("true", "false"):
        raise validation_error('"show_archived" must be true or false.')
    attributes = list(found.attributes.values())[offset : offset + limit]
    return ok([render_attribute(store, attribute) for attribute in attributes])


@router.post("/objects/{obj}/attributes")
async def create_attribute(request: Request, obj: str) -> JSONResponse:
    store = sandbox_state(request).store
    store.get_object(obj)  # an unknown object is a 404 before any body check
    data = data_object(await read_json(request))
    missing = [key for key in _ATTRIBUTE_REQUIRED if key not in data]
    if missing:
        raise validation_error(f"Missing required attribute fields: {', '.join(missing)}.")
    unknown = set(data) - set(_ATTRIBUTE_REQUIRED) - set(_ATTRIBUTE_OPTIONAL)
    if unknown:
        raise validation_error(f"Unknown attribute fields: {', '.join(sorted(unknown))}.")
    if data.get("relationship") is not None:
        raise validation_error("Relationship attributes are not supported by the sandbox.")
    if data.get("default_value") is not None:
        raise validation_error("Default values are not supported by the sandbox.")
    config = data["config"]
    if not isinstance(config, dict):
        raise validation_error('"config" must be an object.')
    currency_code, currency_display = _currency_config(config.get("currency"))
    attribute = store.create_attribute(
        obj,
        title=_string(data, "title"),
        description=_string(data, "description", nullable=True),
        api_slug=_string(data, "api_slug"),
        attribute_type=_string(data, "type"),
        is_required=_boolean(data, "is_required"),
        is_unique=_boolean(data, "is_unique"),
        is_multiselect=_boolean(data, "is_multiselect"),
        currency_code=currency_code,
        currency_display=currency_display,
        allowed_objects=_allowed_objects(config.get("record_reference")),
    )
    return ok(render_attribute(store, attribute))


def _currency_config(raw: Any) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise validation_error('"config.currency" must be an object.')
    code = raw.get("default_currency_code")
    display = raw.get("display_type")
    if not isinstance(code, str) or code not in CURRENCY_CODES:
        raise validation_error(
            '"config.currency.default_currency_code" must be one of: '
            + ", ".join(sorted(CURRENCY_CODES))
        )
    if display not in _DISPLAY_TYPES:
        raise validation_error(
            '"config.currency.display_type" must be one of ' + ", ".join(sorted(_DISPLAY_TYPES))
        )
    return code, display


def _allowed_objects(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    allowed = raw.get("allowed_objects") if isinstance(raw, dict) else None
    if not isinstance(allowed, list) or not allowed or not all(isinstance(a, str) for a in allowed):
        raise validation_error(
            '"config.record_reference.allowed_objects" must be a non-empty array of objects.'
        )
    return allowed


@router.get("/objects/{obj}/attributes/{attribute}")
async def get_attribute(request: Request, obj: str, attribute: str) -> JSONResponse:
    store = sandbox_state(request).store
    return ok(render_attribute(store, store.get_attribute(obj, attribute)))


@router.get("/objects/{obj}/attributes/{attribute}/options")
async def list_options(request: Request, obj: str, attribute: str) -> JSONResponse:
    store = sandbox_state(request).store
    found = store.get_attribute(obj, attribute)
    show_archived = request.query_params.get("show_archived") == "true"
    return ok(
        [
            render_option(store, found, option)
            for option in found.options.values()
            if show_archived or not option.is_archived
        ]
    )


@router.post("/objects/{obj}/attributes/{attribute}/options")
async def create_option(request: Request, obj: str, attribute: str) -> JSONResponse:
    store = sandbox_state(request).store
    found = store.get_attribute(obj, attribute)
    title = _string(data_object(await read_json(request)), "title")
    if not title:
        raise validation_error('"title" must not be empty.')
    option = store.create_option(obj, attribute, title)
    return ok(render_option(store, found, option))


@router.patch("/objects/{obj}/attributes/{attribute}/options/{option}")
async def update_option(request: Request, obj: str, attribute: str, option: str) -> JSONResponse:
    store = sandbox_state(request).store
    found = store.get_attribute(obj, attribute)
    data = data_object(await read_json(request))
    title = data.get("title")
    archived = data.get("is_archived")
    if title is not None and (not isinstance(title, str) or not title):
        raise validation_error('"title" must be a non-empty string.')
    if archived is not None and not isinstance(archived, bool):
        raise validation_error('"is_archived" must be a boolean.')
    updated = store.update_option(obj, attribute, option, title=title, is_archived=archived)
    return ok(render_option(store, found, updated))


# Records -------------------------------------------------------------------------------


@router.post("/objects/{obj}/records")
async def create_record(request: Request, obj: str) -> JSONResponse:
    store = sandbox_state(request).store
    store.get_object(obj)
    record = store.create_record(obj, await record_values(request))
    return ok(render_record(store, record))


@router.put("/objects/{obj}/records")
async def assert_record(request: Request, obj: str) -> JSONResponse:
    store = sandbox_state(request).store
    store.get_object(obj)
    matching = request.query_params.get("matching_attribute")
    if not matching:
        raise validation_error('The query parameter "matching_attribute" is required.')
    record = store.assert_record(obj, matching, await record_values(request))
    return ok(render_record(store, record))


@router.post("/objects/{obj}/records/query")
async def query_records(request: Request, obj: str) -> JSONResponse:
    store = sandbox_state(request).store
    store.get_object(obj)
    # The body is optional in practice: no body lists everything.
    body = await read_json(request) if await request.body() else {}
    if not isinstance(body, dict):
        raise validation_error("The body must be an object.")
    records = store.query_records(
        obj,
        filter=body.get("filter"),
        sorts=body.get("sorts"),
        limit=non_negative_int(body.get("limit"), "limit", 500),
        offset=non_negative_int(body.get("offset"), "offset", 0),
    )
    return ok([render_record(store, record) for record in records])


@router.get("/objects/{obj}/records/{record_id}")
async def get_record(request: Request, obj: str, record_id: str) -> JSONResponse:
    store = sandbox_state(request).store
    record = store.get_record(obj, record_id)
    store.check_readable(record.id)
    return ok(render_record(store, record))


@router.get("/objects/{obj}/records/{record_id}/attributes/{attribute}/values")
async def get_values(request: Request, obj: str, record_id: str, attribute: str) -> JSONResponse:
    store = sandbox_state(request).store
    record = store.get_record(obj, record_id)
    store.check_readable(record.id)
    found = store.get_attribute(obj, attribute)
    params = request.query_params
    historic = params.get("show_historic", "false")
    if historic not in ("true", "false"):
        raise validation_error('"show_historic" must be true or false.')
    offset = non_negative_int(params.get("offset"), "offset", 0)
    limit = non_negative_int(params.get("limit"), "limit", 10**9)
    values = render_values(store, record, found, historic=historic == "true")
    return ok(values[offset : offset + limit])


@router.patch("/objects/{obj}/records/{record_id}")
async def patch_record(request: Request, obj: str, record_id: str) -> JSONResponse:
    return await _update_record(request, obj, record_id, append=True)


@router.put("/objects/{obj}/records/{record_id}")
async def put_record(request: Request, obj: str, record_id: str) -> JSONResponse:
    return await _update_record(request, obj, record_id, append=False)


async def _update_record(
    request: Request, obj: str, record_id: str, *, append: bool
) -> JSONResponse:
    store = sandbox_state(request).store
    store.get_record(obj, record_id)  # a missing record is a 404 before the body is judged
    record = store.update_record(obj, record_id, await record_values(request), append=append)
    return ok(render_record(store, record))


@router.delete("/objects/{obj}/records/{record_id}")
async def delete_record(request: Request, obj: str, record_id: str) -> JSONResponse:
    sandbox_state(request).store.delete_record(obj, record_id)
    return JSONResponse({})
