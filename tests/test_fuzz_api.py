"""Hostile input: hypothesis against the request parsers, schemathesis against the served OpenAPI
document (a live `portal serve`), and hand-picked nasties. No response may be a 5xx, and every
4xx carries a JSON error code."""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.clients import forwarded_client, forwarded_scheme, parse_ip
from server.errors import ApiError
from server.logs import AccessLog, sane_request_id
from server.payloads import _loads, parse_form, parse_json_object
from server.presence import _normalized, normalize_page, session_member
from server.sessions import SessionSigner
from tests.conftest import ADMIN_TOKEN

FUZZ_EXAMPLES = 30
"""Cases per operation and generation mode: bounded so CI stays quick (~600 cases in all)."""

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


# The parsers: any input is a value or an ApiError with a 4xx, never another exception.


@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_parse_json_object_accepts_objects_or_refuses_with_4xx(body: bytes) -> None:
    try:
        value = parse_json_object(body)
    except ApiError as exc:
        assert 400 <= exc.status < 500 and exc.code in ("invalid_json", "invalid_body")
    else:
        assert isinstance(value, dict)


def outcome(parse: Callable[[str], Any], text: str) -> Any:
    try:
        return ("value", repr(parse(text)))
    except ApiError as exc:
        return (ApiError, exc.status, exc.code, exc.message)
    except (ValueError, RecursionError) as exc:
        return (type(exc), str(exc))


@given(
    st.text(max_size=200)
    | json_values.map(json.dumps)
    | st.tuples(st.sampled_from(["", " ", "\n\t", "\ufeff"]), json_values.map(json.dumps),
                st.sampled_from(["", " ", "\r\n", "x", ",1", "}"])).map("".join)
)  # fmt: skip
def test_json_through_the_scanner_is_what_json_loads_answers(text: str) -> None:
    assert outcome(_loads, text) == outcome(json.loads, text)


def test_parse_json_object_deep_nesting() -> None:
    with pytest.raises(ApiError) as caught:
        parse_json_object(b"[" * 100_000 + b"]" * 100_000)
    assert caught.value.status in (400, 422)


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_parse_form_any_bytes(body: bytes) -> None:
    try:
        fields = parse_form(body)
    except ApiError as exc:
        assert exc.status == 400 and exc.code == "invalid_form"
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
        assert len(fields) <= 20


@given(json_values | st.text(max_size=1000))
def test_normalize_page_any_value(page: Any) -> None:
    try:
        path = normalize_page(page)
    except ApiError as exc:
        assert exc.status == 422 and exc.code == "invalid_page"
    else:
        assert path is None or (path.startswith("/") and path.isprintable())


@given(
    st.text(max_size=600)
    | st.sampled_from(["/", "/a/", "/index.html?x=1#y", "//evil", "/tin-tức/", "/\x00", "?x"])
)
def test_remembered_pages_are_normalized_as_fresh_ones(page: str) -> None:
    fresh = outcome(_normalized.__wrapped__, page)
    assert outcome(normalize_page, page) == fresh
    assert outcome(normalize_page, page) == fresh  # from the cache this time


@given(st.text(max_size=20) | st.binary(min_size=12, max_size=12).map(
    lambda raw: base64.urlsafe_b64encode(raw).decode()
))  # fmt: skip
def test_session_members_are_the_ids_raw_bytes(session_id: str) -> None:
    member = session_member(session_id)
    if len(session_id) == 16 and len(member) == 12:
        assert member == base64.urlsafe_b64decode(session_id)
    else:
        assert member == session_id.encode()


@given(st.text(max_size=300))
def test_session_tokens_never_raise(token: str) -> None:
    assert SessionSigner(("k" * 20,), 60).verify(token) is None


@given(st.lists(st.text(max_size=60), max_size=5), st.text(max_size=40))
def test_forwarded_headers_never_raise(forwarded_for: list[str], proto: str) -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    peer = ipaddress.ip_address("10.1.2.3")
    client = forwarded_client(peer, forwarded_for, proxies)
    assert client is not None
    assert forwarded_scheme(proto) in (None, "http", "https", "ws", "wss")
    for hop in forwarded_for:
        parse_ip(hop)


@given(st.text(max_size=200))
def test_request_ids(value: str) -> None:
    kept = sane_request_id(value)
    assert kept is None or (kept.isascii() and " " not in kept and len(kept) <= 128)


@given(
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "", "x/y"]
    ),
    body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
    path=st.sampled_from(
        [
            "/api/presence",
            "/api/presence/leave",
            "/api/polls/portal-rating/votes",
            "/api/polls/nope/votes",
        ]
    ),
)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_app_any_body_any_type(live_portal: str, content_type: str, body: bytes, path: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(live_portal + path, content=body, headers=headers, timeout=5)
    _assert_clean(response)


# A live portal, shared by the module: uvicorn's real HTTP parsing is part of what is fuzzed.


@pytest.fixture(scope="module")
def live_portal(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Any:  # a module-scoped twin of conftest's start_portal
    import os
    import subprocess
    import sys
    import time
    import uuid

    import redis as redis_sync

    from tests.conftest import REPO, SECRET, SITE_DIR
    from tests.redis_process import free_port

    port = free_port()
    work = tmp_path_factory.mktemp("fuzz-portal")
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = {
        **os.environ,
        "PORTAL_REDIS_URL": redis_url,
        "PORTAL_REDIS_PREFIX": prefix,
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_ADMIN_TOKEN": ADMIN_TOKEN,
        "PORTAL_DATA_DIR": str(work / "data"),
        "PORTAL_LOG_FORMAT": "json",  # the access lines server_errors reads
        "PORTAL_VOTE_RATE_LIMIT": "100000/minute",
        "PORTAL_NEW_VISITOR_LIMIT": "100000/minute",  # the fuzzer is one address
    }
    args = [
        sys.executable, "-m", "portal", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--site", str(SITE_DIR), "--out", str(work / "dist"), "--no-watch",
    ]  # fmt: skip
    with open(work / "serve.log", "wb") as log:
        process = subprocess.Popen(args, env=env, cwd=REPO, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((work / "serve.log").read_text())
        time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(15)
    client = redis_sync.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()
    errors = server_errors((work / "serve.log").read_text(errors="replace"))
    assert not errors, errors[:5]


def server_errors(log: str) -> list[dict[str, Any]]:
    """The access lines of `log` (the service's JSON lines among others) answering >= 500."""
    found = []
    for line in log.split("\n"):  # not splitlines(): a path may hold U+2028, U+0085...
        if not line.startswith("{"):
            continue  # `portal serve`'s banner and the builder's summary
        entry = json.loads(line)
        if entry.get("logger") != "portal.access":
            continue
        if entry.get("kind") == "summary":
            found += [entry] if any(int(code) >= 500 for code in entry["status"]) else []
        elif entry["status"] >= 500:
            found.append(entry)
    return found


def test_server_errors_finds_a_logged_500() -> None:
    """The check above can fail: a 500 the access log writes is found, a 4xx is not."""
    stream = io.StringIO()
    log = AccessLog(stream, mode="summary", summarised={("GET", "/healthz")})
    log.write("a", "GET", "/api/polls/x", "/api/polls/{poll_id}", 404, 80, 0.001)
    assert server_errors(stream.getvalue()) == []
    log.write("b", "POST", "/api/presence", "/api/presence", 500, 80, 0.001)
    log.close()
    assert [entry["request_id"] for entry in server_errors(stream.getvalue())] == ["b"]


def _assert_clean(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json")
        code = response.json()["error"]["code"]
        assert code and code.replace("_", "").isalpha() and code.islower()


def _fuzz(operation: Any, mode: GenerationMode, statuses: Counter[int]) -> None:
    """Run one operation's cases in one generation mode, counting answers by status."""
    # Positive admin cases carry the token, so the tallies' schema is checked too.
    admin = mode is GenerationMode.POSITIVE and "/admin/" in operation.path
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if admin else None
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call_and_validate(checks=checks, headers=headers, timeout=10)
        statuses[response.status_code] += 1
        assert response.status_code < 500

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters or body): no negative cases exist.
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_schemathesis_against_openapi(live_portal: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_portal}/api/openapi.json")
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(result.ok(), mode, statuses)
    cases = statuses.total()
    print(f"\nschemathesis: {operations} operations, {cases} cases, {sorted(statuses.items())}")
    assert operations >= 10
    assert cases >= 200
    assert not any(status >= 500 for status in statuses)


def _raw(base: str, request: bytes) -> bytes:
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "case",
    [
        "huge-number",
        "nested-huge",
        "unicode-option",
        "nul-option",
        "nul-page",
        "long-path",
        "long-page",
        "repeated-session-headers",
        "repeated-content-type",
        "bad-content-length",
        "huge-content-length",
        "odd-types",
        "percent-nul-path",
        "utf8-overlong",
    ],
)
def test_hostile_requests(live_portal: str, case: str) -> None:
    base = live_portal
    vote = f"{base}/api/polls/portal-rating/votes"
    send: dict[str, Callable[[], httpx.Response]] = {
        "huge-number": lambda: httpx.post(vote, content=b'{"option": 1' + b"0" * 4000 + b"}",
                                          headers={"Content-Type": "application/json"}),
        "nested-huge": lambda: httpx.post(f"{base}/api/presence", json={"page": 10**300}),
        "unicode-option": lambda: httpx.post(vote, json={"option": "Rất tốt 🗳️\u202e"}),
        "nul-option": lambda: httpx.post(vote, json={"option": "tot\x00"}),
        "nul-page": lambda: httpx.post(f"{base}/api/presence", json={"page": "/a\x00.html"}),
        "long-path": lambda: httpx.get(f"{base}/api/polls/{'x' * 6000}"),
        "long-page": lambda: httpx.get(f"{base}/api/presence", params={"page": "/" + "a" * 3000}),
        "repeated-session-headers": lambda: httpx.get(
            f"{base}/api/polls",
            headers=[("X-Portal-Session", "a.b.c"), ("X-Portal-Session", b"\xff" * 300)],
        ),
        "repeated-content-type": lambda: httpx.post(
            vote,
            content=b'{"option": "tot"}',
            headers=[("Content-Type", "text/plain"), ("Content-Type", "application/json")],
        ),
        "bad-content-length": lambda: httpx.Response(
            int(_raw(base, b"POST /api/presence HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
                          b"Connection: close\r\n\r\n").split(b" ")[1])
        ),
        "huge-content-length": lambda: httpx.Response(
            int(_raw(base, b"POST /api/presence HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/json\r\nContent-Length: 99999999999\r\n"
                          b"Connection: close\r\n\r\n{}").split(b" ")[1])
        ),
        "odd-types": lambda: httpx.post(vote, json={"option": ["tot"], "extra": {"a": None}}),
        "percent-nul-path": lambda: httpx.get(f"{base}/api/polls/%00%ff%2e%2e"),
        "utf8-overlong": lambda: httpx.post(
            vote, content=b'{"option": "\xc0\xaf"}', headers={"Content-Type": "application/json"}
        ),
    }  # fmt: skip
    response = send[case]()
    if case == "repeated-session-headers":
        # Garbled sessions are no session: the client is simply given a new one.
        assert response.status_code == 200 and response.headers["x-portal-session"]
        return
    assert 400 <= response.status_code < 500, (case, response.status_code)
    if not case.endswith("content-length"):
        # (A malformed Content-Length is refused by uvicorn's HTTP parser, before the app.)
        _assert_clean(response)
