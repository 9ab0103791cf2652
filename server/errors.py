"""Errors as JSON: `{"error": {"code", "message"}}`, whatever went wrong.

`error_answer` turns any exception a handler raised into the status, body and headers the
pipeline sends (`server.pipeline`): one place, so every route answers errors alike.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import Scope

log = logging.getLogger("portal.errors")

Header = tuple[bytes, bytes]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_body",
    429: "rate_limited",
}


class ApiError(Exception):
    """An answer the client caused: a status, a snake_case code, a message, maybe more fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    all_headers = {"Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return JSONResponse(error_json(code, message, **extra), status_code=status, headers=all_headers)


def error_json(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, **extra}


def json_bytes(value: Any) -> bytes:
    """JSON as every answer encodes it (as Starlette's JSONResponse does)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_headers(body: bytes) -> list[Header]:
    """The headers of a JSON answer the pipeline frames itself."""
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]


def error_answer(exc: Exception, scope: Scope) -> tuple[int, bytes, list[Header], bool]:
    """What to answer for `exc`: status, JSON body, headers, and whether Redis failed."""
    redis_failed = False
    headers: dict[str, str] | None = None
    extra: dict[str, Any] = {}
    if isinstance(exc, ApiError):
        status, code, message = exc.status, exc.code, exc.message
        headers, extra = exc.headers, exc.extra
    elif isinstance(exc, HTTPException):
        status, code = exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error")
        message, headers = str(exc.detail), dict(exc.headers or {})
    elif isinstance(exc, RedisError):
        log.warning("redis unavailable: %s: %s", type(exc).__name__, exc)
        redis_failed = True
        status, code = 503, "redis_unavailable"
        message = "The vote and presence store is unavailable; try again shortly."
        headers = {"Retry-After": "2"}
    else:
        log.error("unhandled error on %s %s", scope["method"], scope["path"][:200], exc_info=exc)
        status, code, message = 500, "internal_error", "Something went wrong on our side."
    body = json_bytes(error_json(code, message, **extra))
    framed = json_headers(body)
    for name, value in (headers or {}).items():
        framed.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return status, body, framed, redis_failed
