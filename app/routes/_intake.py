"""What every webhook route shares: size and type checks, the raw request, the hand-off to
the intake (`app.events.intake`), the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from fastapi import Request
from fastapi.responses import JSONResponse

from app.bridge import Bridge
from app.errors import (
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RequestTimeoutError,
    UnsupportedMediaTypeError,
)
from app.events.intake import receive
from app.events.model import RawRequest, Source
from app.events.sources import EventSource
from app.log import get_logger
from app.metrics import REJECTED_REQUESTS

log = get_logger(__name__)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def bridge_of(request: Request) -> Bridge:
    return request.app.state.bridge


def enabled_source(request: Request, source: Source) -> EventSource:
    """The provider's source, or 404: an unconfigured secret must never verify anything."""
    found = bridge_of(request).sources.get(source)
    if found is None:
        raise NotFoundError(f"{source.value} webhooks are not enabled on this bridge")
    return found


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_raw_request(
    request: Request, source: Source, *, media_types: Collection[str], keep_headers: Collection[str]
) -> RawRequest:
    """The exact request as received, after cheap checks that need no secret.

    The body is read in chunks and abandoned as soon as it passes the limit, so an oversized
    upload costs no more than the limit in memory; and it must arrive within the body-read
    deadline (uvicorn has none), so a sender trickling bytes cannot hold a connection.
    """
    settings = bridge_of(request).settings
    try:
        if _media_type(request) not in media_types:
            raise UnsupportedMediaTypeError(
                f"Content-Type must be one of: {', '.join(sorted(media_types))}"
            )
        limit = settings.webhook_max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLargeError(f"Body larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(settings.http_body_timeout_seconds):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLargeError(f"Body larger than {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestTimeoutError(
                f"Body not received within {settings.http_body_timeout_seconds:g} s"
            ) from None
        try:
            body = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequestError("Body is not valid UTF-8") from None
    except (
        UnsupportedMediaTypeError,
        PayloadTooLargeError,
        RequestTimeoutError,
        BadRequestError,
    ) as exc:
        REJECTED_REQUESTS.labels(source.value, str(exc.status_code)).inc()
        log.warning("webhook.rejected", source=source.value, status=exc.status_code)
        raise
    headers = {name: request.headers[name] for name in keep_headers if name in request.headers}
    return RawRequest(body=body, headers=headers, query=request.url.query, path=request.url.path)


async def accept(
    request: Request, source: EventSource, raw: RawRequest, *, channel: str | None = None
) -> JSONResponse:
    """The intake's answer to the delivery (`channel`: see `receive`)."""
    bridge = bridge_of(request)
    answer = await receive(
        source, raw, processor=bridge.processor, queue=bridge.queue, channel=channel
    )
    return JSONResponse(answer)
