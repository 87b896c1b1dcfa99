"""Attio's error envelope.

Every Attio error body has the same four keys (`status_code`, `type`, `code`, `message`), so the
sandbox raises one exception type carrying them and renders it in one place. The constructors
below name the codes Attio documents, which keeps call sites short and the codes consistent.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

INVALID_REQUEST = "invalid_request_error"


class AttioError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        error_type: str = INVALID_REQUEST,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.error_type = error_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "status_code": self.status_code,
            "type": self.error_type,
            "code": self.code,
            "message": self.message,
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)


def validation_error(message: str) -> AttioError:
    return AttioError(400, "validation_type", message)


def value_not_found(message: str) -> AttioError:
    return AttioError(400, "value_not_found", message)


def missing_value(message: str) -> AttioError:
    return AttioError(400, "missing_value", message)


def filter_error(message: str) -> AttioError:
    return AttioError(400, "filter_error", message)


def not_found(message: str) -> AttioError:
    return AttioError(404, "not_found", message)


def slug_conflict(message: str) -> AttioError:
    return AttioError(409, "slug_conflict", message)


def object_limit(limit: int) -> AttioError:
    # Attio's answer at the plan's object limit is not documented (its OpenAPI document lists
    # only 409 `slug_conflict` for POST /v2/objects): the body has that documented shape, the
    # status and code are this sandbox's guess.
    return AttioError(
        403,
        "object_limit_reached",
        f"Your workspace's plan allows {limit} objects. Upgrade to create more objects.",
    )


def unauthorized(message: str) -> AttioError:
    return AttioError(401, "unauthorized", message, error_type="auth_error")
