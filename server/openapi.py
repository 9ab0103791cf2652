"""The OpenAPI 3.1 description of the HTTP API, served at `GET /api/openapi.json`.

Generated from the routes the service serves: each handler carries its operation (summary,
parameters, body, answers), written beside it with `@documented`; the route gives the path and
methods, the session parameter (a route that takes a session) and the admin security (an
admin route). The fuzz tests (schemathesis) check the real answers against the document, and
tests/test_openapi.py that every API route is in it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.router import JsonEndpoint, Route, Session

Operation = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])
_OPERATIONS: dict[Callable[..., Any], Operation] = {}


def documented(operation: Operation) -> Callable[[F], F]:
    """The OpenAPI operation of a handler: written beside it, put in the document for every
    route that serves it."""

    def mark(handler: F) -> F:
        _OPERATIONS[handler] = operation
        return handler

    return mark


_ERROR_CODES = {
    400: ["invalid_json", "invalid_form", "bad_request"],
    401: ["unauthorized"],
    403: ["forbidden_origin"],
    404: ["not_found", "poll_not_found", "admin_disabled"],
    405: ["method_not_allowed"],
    409: ["already_voted", "poll_closed"],
    413: ["payload_too_large"],
    415: ["unsupported_media_type"],
    422: [
        "invalid_body",
        "invalid_page",
        "invalid_option",
        "invalid_query",
        "invalid_prefix",
        "invalid_window",
        "invalid_lang",
    ],
    429: ["rate_limited"],
    503: ["redis_unavailable"],
}
_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or wrong admin token",
    403: "A page of another site (form votes, heartbeats, leaves)",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Body over the size limit (4 KiB by default)",
    415: "Unsupported content type",
    422: "Well-formed but invalid",
    429: "Too many votes, new sessions or failed admin sign-ins from this network",
    503: "Redis is unavailable; retry after the `Retry-After` seconds",
}

SESSION_HEADER = {
    "X-Portal-Session": {
        "description": "A new session token, when the request had no valid one",
        "schema": {"type": "string"},
    }
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}},
}


def error_answer(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Error"},
                        {
                            "properties": {
                                "error": {"properties": {"code": {"enum": _ERROR_CODES[status]}}}
                            }
                        },
                    ]
                }
            }
        },
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def json_answer(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def answers(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    responses = dict(ok)
    for status in sorted({*errors, 405, 503}):
        responses[str(status)] = error_answer(status)
    return responses


POLL_ID = {
    "name": "poll_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A poll id from `site.toml` (lowercase letters, digits, hyphens)",
}
LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["vi", "en"]},
    "description": (
        "The language of the poll's texts: English where site.toml gives them (`lang` in the "
        "answer says which). Without it, `Accept-Language` decides; Vietnamese by default"
    ),
}
PAGE = {
    "type": "string",
    "description": "A site path such as `/tin-tuc/a.html` (at most a few hundred characters)",
}
_SESSION_PARAM = {
    "name": "X-Portal-Session",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The session token, for cross-origin embeds where cookies are blocked",
}
_ADMIN_SECURITY: list[dict[str, list[str]]] = [{"admin": []}]

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z_]+$"},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Presence": {
        "type": "object",
        "required": ["online", "page_online", "ttl"],
        "properties": {
            "online": {"type": "integer", "minimum": 0},
            "page_online": {"type": ["integer", "null"], "minimum": 0},
            "ttl": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    },
    "Option": {
        "type": "object",
        "required": ["id", "label", "votes"],
        "properties": {
            "id": {"type": "string"},
            "label": {"type": "string"},
            "votes": {"type": "integer", "minimum": 0},
        },
    },
    "Poll": {
        "type": "object",
        "required": ["id", "lang", "question", "options", "total", "voted", "open"],
        "properties": {
            "id": {"type": "string"},
            "lang": {
                "type": "string",
                "enum": ["vi", "en"],
                "description": "The language of question and labels",
            },
            "question": {"type": "string"},
            "options": {"type": "array", "items": ref("Option")},
            "total": {"type": "integer", "minimum": 0},
            "voted": {"type": ["string", "null"], "description": "This session's choice"},
            "open": {"type": "boolean"},
        },
    },
    "Tally": {
        "allOf": [
            ref("Poll"),
            {
                "type": "object",
                "required": ["updated_at"],
                "properties": {
                    "options": {
                        "type": "array",
                        "items": {
                            "allOf": [
                                ref("Option"),
                                {
                                    "type": "object",
                                    "required": ["percent"],
                                    "properties": {"percent": {"type": "number"}},
                                },
                            ]
                        },
                    },
                    "updated_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
        ]
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    },
    "Stats": {
        "type": "object",
        "required": ["online", "today", "month", "total"],
        "properties": {
            name: {"type": "integer", "minimum": 0}
            for name in ("online", "today", "month", "total")
        },
    },
}

VOTE_FORM = {
    "type": "object",
    "properties": {"option": {"type": "string"}},
}


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    """The document of `routes` (those whose handler is `@documented`); a fresh dict each
    call, so a handler cannot alter the next answer."""
    paths: dict[str, dict[str, Operation]] = {}
    for route in routes:
        endpoint = route.endpoint
        handler = endpoint.handler if isinstance(endpoint, JsonEndpoint) else endpoint
        operation = _OPERATIONS.get(handler)
        if operation is None:
            continue  # not part of the API: pages of the console, metrics, event streams
        for method in route.methods:
            paths.setdefault(route.path, {})[method.lower()] = _for_route(operation, route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "portal",
            "version": "1",
            "description": (
                "Live presence and one-vote polls for a static e-portal. Errors are "
                '`{"error": {"code", "message"}}`; API responses are `Cache-Control: no-store`.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(_SCHEMAS),
            "securitySchemes": {
                "admin": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "PORTAL_ADMIN_TOKEN; unset = admin API answers 404",
                }
            },
        },
    }


def _for_route(operation: Operation, route: Route) -> Operation:
    """A copy of `operation` with what the route says: its session parameter, its security."""
    result = copy.deepcopy(operation)
    parameters = result.pop("parameters", [])
    if route.session is not Session.NONE:
        parameters = [*parameters, copy.deepcopy(_SESSION_PARAM)]
    if parameters:
        result["parameters"] = parameters
    if route.admin:
        result["security"] = copy.deepcopy(_ADMIN_SECURITY)
    return result


def query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string", **schema},
        "description": description,
    }


FORMAT = query("format", "`csv` for CSV (UTF-8 with a BOM), else JSON", enum=["json", "csv"])
FROM = query("from", "First day, `YYYY-MM-DD` (included)")
TO = query("to", "Last day, `YYYY-MM-DD` (included)")
OBJECT = {"type": "object"}


def admin_get(summary: str, parameters: list[dict[str, Any]]) -> Operation:
    """An admin read answering JSON, or CSV with `?format=csv`."""
    return {
        "summary": summary,
        "parameters": [*parameters, FORMAT],
        "responses": answers(
            {
                "200": {
                    "description": summary,
                    "content": {
                        "application/json": {"schema": OBJECT},
                        "text/csv; charset=utf-8": {"schema": {"type": "string"}},
                    },
                }
            },
            401,
            404,
            422,
            429,
        ),
    }


@documented(
    {
        "summary": "This document",
        "responses": {
            "200": json_answer("OpenAPI 3.1", {"type": "object"}),
            "405": error_answer(405),
        },
    }
)
async def openapi_endpoint(request: Request) -> Response:
    document = openapi_document(request.scope["app"].router.routes)
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})
