"""Reading request bodies: bounded in size, strictly typed, every failure a clear 4xx."""

from __future__ import annotations

import json
import json.scanner
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Receive, Scope

from server.errors import ApiError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
TEXT = "text/plain"
_BOM = b"\xef\xbb\xbf"
# The decoder's C scanner (json's own defaults), called directly: json.loads reaches it
# through three Python frames and two whitespace regexes, which cost more than the parse.
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (`name` in lower case), without building a
    Headers object: the hottest calls read two or three headers per request."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def media_type(scope: Scope) -> str:
    return (header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, refusing (413) anything over `limit` bytes before reading it whole."""
    declared = header(scope, b"content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_request", "Content-Length must be a whole number")
        if int(declared) > limit:
            raise _too_large(limit)
    # ASGI messages read directly: request.stream()'s generator costs more than a small body.
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "bad_request", "The client went away mid-request")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"Request bodies are limited to {limit} bytes")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object, or 400 `invalid_json` / 422 `invalid_body`. UTF-8, as RFC 8259 asks
    of JSON between systems (a leading byte-order mark is allowed): decoded here, since
    `json.loads` of bytes first guesses among five encodings, a third of its time."""
    try:
        value = _loads(body.removeprefix(_BOM).decode())
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_body", "The request body must be a JSON object")
    return value


def _loads(text: str) -> Any:
    """`json.loads(text)`, the same value or error: a text the scanner takes whole from its
    first character is what json.loads would answer; anything else (whitespace around it,
    extra data, an error) goes to json.loads itself."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def parse_form(body: bytes) -> dict[str, str]:
    """An urlencoded form; the first value of each field."""
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(
            400, "invalid_form", "The form body is not valid UTF-8 urlencoded data"
        ) from None
    return {key: values[0] for key, values in fields.items()}


async def optional_json_object(scope: Scope, receive: Receive, limit: int) -> dict[str, Any]:
    """A JSON object body that may be absent; `text/plain` is accepted too, since
    `navigator.sendBeacon` sends a string body that way without a CORS preflight."""
    body = await read_body(scope, receive, limit)
    if not body.strip():
        return {}
    kind = media_type(scope)
    if kind not in (JSON, TEXT, ""):
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json")
    return parse_json_object(body)
