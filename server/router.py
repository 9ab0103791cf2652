"""Routes and the router: what each API path answers, and which pipeline steps it takes.

A route says, besides its handler, what the pipeline must do before calling it: whether the
request needs a visitor session (and may be handed a new one), whether a cross-site `Origin`
is refused, whether it is an admin call. The pipeline (`server.pipeline`) reads these flags;
handlers never repeat the steps.

Lookup is a dict for paths without parameters and a short list of compiled patterns for the
others (`/api/polls/{poll_id}`): no per-request walk over every route.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.routing import Route as StarletteRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope

if TYPE_CHECKING:
    from server.pipeline import Mounts
    from server.sessions import Visitor

# A handler answering a status and JSON bytes, without building a Request or a Response:
# the hottest calls (heartbeats, count reads, JSON votes) are written this way. It may answer
# a Response instead, for its rarer cases (a form vote's redirect).
JsonHandler = Callable[
    [Any, Scope, Receive, "Visitor | None"], Awaitable["tuple[int, bytes] | Response"]
]
RequestHandler = Callable[[Request], Awaitable[Response]]


class Session(enum.Enum):
    """What a route needs of the visitor session."""

    NONE = "none"
    READ = "read"
    """The request's session if it has a valid one; never hands a new one out (leave)."""
    HANDOUT = "handout"
    """A session, new if the request has none: subject to the new-visitor limit."""


@dataclass(frozen=True, slots=True)
class JsonEndpoint:
    """Marks a `JsonHandler`: the pipeline frames its bytes itself."""

    handler: JsonHandler


@dataclass(frozen=True, slots=True)
class Route:
    """One path template and its methods; `{name}` matches one segment, `{name:path}` the rest."""

    path: str
    methods: tuple[str, ...]
    endpoint: JsonEndpoint | RequestHandler
    session: Session = Session.NONE
    same_origin: bool = False
    """Refuse (403) an `Origin` that is neither the site's own nor an allowed one."""
    admin: bool = False
    """An admin call: refused (429) while the address is over the failed-authentication
    limit; a 401 it answers counts as a failure (`server.ratelimit.AdminGuard`)."""


Methods = dict[str, Route]


class Router:
    """Finds the routes of a path: `find(path) -> (routes by method, path params) | None`."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: list[Route] = []
        self.exact: dict[str, Methods] = {}
        self._patterns: dict[str, tuple[re.Pattern[str], Methods]] = {}
        self.patterns: list[tuple[re.Pattern[str], Methods]] = []
        self.add(routes)

    def add(self, routes: Iterable[Route]) -> None:
        """More routes (another module's, after the app is built)."""
        for route in routes:
            self.routes.append(route)
            if "{" in route.path:
                if route.path not in self._patterns:
                    self._patterns[route.path] = (_compile(route.path), {})
                table = self._patterns[route.path][1]
            else:
                table = self.exact.setdefault(route.path, {})
            for method in route.methods:
                if method in table:
                    raise ValueError(f"two routes for {method} {route.path}")
                table[method] = route
            if "GET" in route.methods and "HEAD" not in table:
                table["HEAD"] = route
        self.patterns = list(self._patterns.values())

    def find(self, path: str) -> tuple[Methods, dict[str, str]] | None:
        methods = self.exact.get(path)
        if methods is not None:
            return methods, {}
        for pattern, methods in self.patterns:
            match = pattern.match(path)
            if match is not None:
                return methods, match.groupdict()
        return None


_PARAM = re.compile(r"{(\w+)(?::(path))?}")


def _compile(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for match in _PARAM.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        body = ".*" if match.group(2) else "[^/]+"
        parts.append(f"(?P<{match.group(1)}>{body})")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts) + r"\Z")


ADMIN_PREFIXES = ("/api/admin/", "/admin")


def from_starlette(routes: Iterable[BaseRoute], mounts: Mounts) -> list[Route]:
    """Routes written as Starlette's `Route` (request handlers) as routes of this router, and
    their `Mount`s of static files as mounts. Paths under /api/admin/ and /admin are admin
    routes (the failed-authentication limit); they authenticate in their handlers."""
    converted: list[Route] = []
    for route in routes:
        if isinstance(route, StarletteRoute):
            methods = tuple(sorted((route.methods or {"GET"}) - {"HEAD"}))
            admin = route.path.startswith(ADMIN_PREFIXES)
            converted.append(Route(route.path, methods, route.endpoint, admin=admin))
        elif isinstance(route, Mount) and isinstance(route.app, StaticFiles):
            mounts.prefixed.append((route.path, route.app))
        else:
            raise TypeError(f"cannot serve {route!r}: only Route and Mount of StaticFiles")
    return converted


def allow_header(methods: Methods) -> str:
    """The `Allow` value of a 405: the route's methods."""
    return ", ".join(sorted(methods))
