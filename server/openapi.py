"""The OpenAPI 3.1 description of the HTTP API, served at `GET /api/openapi.json`.

Built in code next to the handlers it describes; the fuzz tests (schemathesis) check the real
answers against it, so it cannot drift far without a test failing.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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

_SESSION_HEADER = {
    "X-Portal-Session": {
        "description": "A new session token, when the request had no valid one",
        "schema": {"type": "string"},
    }
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}},
}


def _error(status: int) -> dict[str, Any]:
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


def _json(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    responses = dict(ok)
    for status in sorted({*errors, 405, 503}):
        responses[str(status)] = _error(status)
    return responses


_POLL_ID = {
    "name": "poll_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A poll id from `site.toml` (lowercase letters, digits, hyphens)",
}
_PAGE = {
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
        "required": ["id", "question", "options", "total", "voted", "open"],
        "properties": {
            "id": {"type": "string"},
            "question": {"type": "string"},
            "options": {"type": "array", "items": _ref("Option")},
            "total": {"type": "integer", "minimum": 0},
            "voted": {"type": ["string", "null"], "description": "This session's choice"},
            "open": {"type": "boolean"},
        },
    },
    "Tally": {
        "allOf": [
            _ref("Poll"),
            {
                "type": "object",
                "required": ["updated_at"],
                "properties": {
                    "options": {
                        "type": "array",
                        "items": {
                            "allOf": [
                                _ref("Option"),
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

_VOTE_FORM = {
    "type": "object",
    "properties": {"option": {"type": "string"}},
}


def openapi_document() -> dict[str, Any]:
    """The document; a fresh dict each call, so a handler cannot alter the next answer."""
    session_ok = {"headers": _SESSION_HEADER}
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
        "paths": {
            "/api/presence": {
                "post": {
                    "summary": "Heartbeat: this session is online, site-wide and on the page",
                    "parameters": [_SESSION_PARAM],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"page": _PAGE}}
                            }
                        },
                    },
                    "responses": _responses(
                        {"200": _json("Counts", _ref("Presence"), **session_ok)},
                        400,
                        403,
                        413,
                        415,
                        422,
                        429,
                    ),
                },
                "get": {
                    "summary": "Read the counts without registering anything",
                    "parameters": [
                        {"name": "page", "in": "query", "required": False, "schema": _PAGE},
                        _SESSION_PARAM,
                    ],
                    "responses": _responses(
                        {"200": _json("Counts", _ref("Presence"), **session_ok)}, 422, 429
                    ),
                },
            },
            "/api/presence/leave": {
                "post": {
                    "summary": "This session leaves now (navigator.sendBeacon sends text/plain)",
                    "parameters": [_SESSION_PARAM],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"page": _PAGE, "session": {"type": "string"}},
                                }
                            },
                            "text/plain": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": _responses(
                        {"204": {"description": "Gone"}}, 400, 403, 413, 415, 422
                    ),
                },
            },
            "/api/polls": {
                "get": {
                    "summary": "The site's polls, with this session's votes",
                    "parameters": [_SESSION_PARAM],
                    "responses": _responses(
                        {
                            "200": _json(
                                "Polls",
                                {
                                    "type": "object",
                                    "required": ["polls"],
                                    "properties": {
                                        "polls": {"type": "array", "items": _ref("Poll")}
                                    },
                                },
                                **session_ok,
                            )
                        },
                        429,
                    ),
                },
            },
            "/api/polls/{poll_id}": {
                "get": {
                    "summary": "One poll",
                    "parameters": [_POLL_ID, _SESSION_PARAM],
                    "responses": _responses(
                        {"200": _json("The poll", _ref("Poll"), **session_ok)}, 404, 429
                    ),
                },
            },
            "/api/polls/{poll_id}/votes": {
                "post": {
                    "summary": "Cast this session's one vote",
                    "description": (
                        "JSON from scripts; an urlencoded form from the no-JavaScript ballot, "
                        "which must come from this origin or an allowed one and is answered "
                        "303 back to the page. Rate limited per client address."
                    ),
                    "parameters": [_POLL_ID, _SESSION_PARAM],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["option"],
                                    "properties": {"option": {"type": "string"}},
                                }
                            },
                            "application/x-www-form-urlencoded": {"schema": _VOTE_FORM},
                        },
                    },
                    "responses": _responses(
                        {
                            "201": _json("Counted", _ref("Poll"), **session_ok),
                            "303": {
                                "description": "Form ballot handled; back to the page",
                                "headers": {
                                    "Location": {"schema": {"type": "string"}},
                                    **_SESSION_HEADER,
                                },
                            },
                        },
                        400,
                        403,
                        404,
                        409,
                        413,
                        415,
                        422,
                        429,
                    ),
                },
            },
            "/api/admin/polls": {
                "get": {
                    "summary": "All tallies (admin)",
                    "security": _ADMIN_SECURITY,
                    "responses": _responses(
                        {
                            "200": _json(
                                "Tallies",
                                {
                                    "type": "object",
                                    "required": ["polls"],
                                    "properties": {
                                        "polls": {"type": "array", "items": _ref("Tally")}
                                    },
                                },
                            )
                        },
                        401,
                        404,
                        429,
                    ),
                },
            },
            "/api/admin/polls/{poll_id}": {
                "get": {
                    "summary": "One tally (admin)",
                    "security": _ADMIN_SECURITY,
                    "parameters": [_POLL_ID],
                    "responses": _responses({"200": _json("Tally", _ref("Tally"))}, 401, 404, 429),
                },
            },
            **_admin_history_paths(),
            "/api/stats": {
                "get": {
                    "summary": "Public visit statistics (no session; cacheable 5 s)",
                    "responses": _responses({"200": _json("Statistics", _ref("Stats"))}),
                },
            },
            "/healthz": {
                "get": {
                    "summary": "The process is up",
                    "responses": {"200": _json("Up", _ref("Status")), "405": _error(405)},
                },
            },
            "/readyz": {
                "get": {
                    "summary": "Redis answers (short timeout)",
                    "responses": _responses({"200": _json("Ready", _ref("Status"))}),
                },
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": _json("OpenAPI 3.1", {"type": "object"}),
                        "405": _error(405),
                    },
                },
            },
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "admin": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "PORTAL_ADMIN_TOKEN; unset = admin API answers 404",
                }
            },
        },
    }


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string", **schema},
        "description": description,
    }


_FORMAT = _query("format", "`csv` for CSV (UTF-8 with a BOM), else JSON", enum=["json", "csv"])
_FROM = _query("from", "First day, `YYYY-MM-DD` (included)")
_TO = _query("to", "Last day, `YYYY-MM-DD` (included)")
_OBJECT = {"type": "object"}


def _admin_get(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": _ADMIN_SECURITY,
            "parameters": [*parameters, _FORMAT],
            "responses": _responses(
                {
                    "200": {
                        "description": summary,
                        "content": {
                            "application/json": {"schema": _OBJECT},
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
    }


def _admin_history_paths() -> dict[str, Any]:
    """History for admins (`server/admin/api.py`); each answer also as CSV."""
    step = _query("step", "Bucket size", enum=["minute", "hour", "day"])
    void_body = {
        "type": "object",
        "required": ["prefix", "from", "to"],
        "properties": {
            "prefix": {"type": "string", "description": "An address hash from the abuse view"},
            "from": {"type": "string", "description": "ISO 8601 time with its offset"},
            "to": {"type": "string", "description": "ISO 8601 time with its offset"},
        },
    }
    return {
        "/api/admin/polls/{poll_id}/series": _admin_get(
            "Votes per hour or day", [_POLL_ID, step, _FROM, _TO]
        ),
        "/api/admin/polls/{poll_id}/abuse": _admin_get("Ballots per address hash", [_POLL_ID]),
        "/api/admin/polls/{poll_id}/void": {
            "post": {
                "summary": "Void an address hash's ballots in a window",
                "security": _ADMIN_SECURITY,
                "parameters": [_POLL_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": void_body}},
                },
                "responses": _responses(
                    {"200": _json("Voided", _OBJECT)}, 400, 401, 403, 404, 413, 422, 429
                ),
            }
        },
        "/api/admin/traffic": _admin_get(
            "Online, visitors and views over time", [step, _FROM, _TO]
        ),
        "/api/admin/pages": _admin_get(
            "Views per page", [_query("date", "One day, `YYYY-MM-DD`"), _FROM, _TO]
        ),
        "/api/admin/pages/now": _admin_get("The pages people are on now", []),
    }


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(openapi_document(), headers={"Cache-Control": "public, max-age=300"})
