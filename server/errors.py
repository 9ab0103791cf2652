"""Errors as JSON: `{"error": {"code", "message"}}`, whatever went wrong."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("portal.errors")

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


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers, **exc.extra)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


async def redis_error(request: Request, exc: Exception) -> Response:
    log.warning("redis unavailable: %s: %s", type(exc).__name__, exc)
    counter = getattr(request.app.state, "metrics", None)
    if counter is not None:
        counter.redis_errors.inc()
    return error_response(
        503,
        "redis_unavailable",
        "The vote and presence store is unavailable; try again shortly.",
        headers={"Retry-After": "2"},
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    # Runs outside the request's middleware, so the request id comes from the scope.
    request_id = request.scope.get("state", {}).get("request_id")
    log.error(
        "unhandled error on %s %s",
        request.method,
        request.url.path[:200],
        exc_info=exc,
        extra={"request_id": request_id},
    )
    return error_response(500, "internal_error", "Something went wrong on our side.")


async def answer_exception(request: Request, exc: Exception) -> Response:
    """What the app's exception handlers answer for `exc`, for code running outside
    Starlette's exception layers (`server.hotpaths`)."""
    for kind in type(exc).__mro__:
        handler = EXCEPTION_HANDLERS.get(kind)
        if handler is not None:
            return await handler(request, exc)
    raise exc  # a BaseException that is no Exception: not ours to answer


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    ApiError: api_error,
    HTTPException: http_error,
    RedisError: redis_error,
    Exception: internal_error,
}
