"""Fixtures for the widget browser tests (imported by tests/test_widgets_*.py).

Test pages are rendered from the real partials in widgets/templates/ and written into the
built site of a real `portal serve`, so they are same-origin with the API and load the served
/widgets/ files. A second, cross-site origin (localhost vs 127.0.0.1) is a tiny static server.
Every page gets a strict Content-Security-Policy (no inline scripts or styles), and every
page error, console error and CSP violation is collected and must stay empty.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest

from tests.conftest import ADMIN_TOKEN, REPO, SITE_DIR
from tests.redis_process import free_port

WIDGETS = REPO / "widgets"
POLL_ID = "portal-rating"
ARTICLE = "/widget-test/article.html"
# For `locator.evaluate`: the element is no taller than the min-height reserved for it, so
# filling it in moved nothing below it.
FITS_RESERVED_SPACE = (
    "el => el.getBoundingClientRect().height <= parseFloat(getComputedStyle(el).minHeight) + 0.5"
)


def site_polls(site_dir: Path = SITE_DIR) -> dict[str, dict[str, Any]]:
    config = tomllib.loads((site_dir / "site.toml").read_text(encoding="utf-8"))
    return {poll["id"]: poll for poll in config.get("polls", [])}


def render_page(
    *,
    lang: str = "vi",
    api: str = "",
    assets: str = "",
    page: str | None = ARTICLE,
    poll: dict[str, Any] | None = None,
    csp_connect: str = "'self'",
    stats: bool = False,
) -> str:
    """A host page with the presence counter and the poll (and with `stats`, the statistics
    box), from the same partials the site builder includes."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(WIDGETS / "templates"), autoescape=True)
    context = {"poll": poll or site_polls()[POLL_ID], "api": api, "page": page, "lang": lang}
    partials = ["presence.html", "poll.html", *(["stats.html"] if stats else [])]
    widgets = "\n".join(env.get_template(name).render(context) for name in partials)
    own = assets or "'self'"
    csp = (
        f"default-src 'none'; script-src {own}; style-src {own}; connect-src {csp_connect}; "
        f"form-action {api or own}; base-uri 'none'"
    )
    title = "Widget test page" if lang == "en" else "Trang thử tiện ích"
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{html.escape(csp)}">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/widgets/portal.css">
<script src="{assets}/widgets/portal.js" defer></script>
</head>
<body>
<main>
<h1>{title}</h1>
{widgets}
<p class="host-after">{title}.</p>
</main>
</body>
</html>
"""


@dataclass
class Portal:
    """A running `portal serve`: its base URL and the directory its site is served from."""

    base: str
    out: Path

    def page(self, name: str, body: str) -> str:
        """Write a test page into the served site, as one of its pages; returns its URL."""
        path = self.out / "widget-test" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        self.add_to_page_list(f"/widget-test/{name}")
        return f"{self.base}/widget-test/{name}"

    def add_to_page_list(self, page: str) -> None:
        """Put `page` on the build's page list (`_portal/site.json`), as a build would, and wait
        until the service counts it: it counts readers of listed pages only. Without a list
        (a build that writes none) every page is counted and there is nothing to do."""
        manifest = self.out / "_portal" / "site.json"
        if not manifest.exists():
            return
        site = json.loads(manifest.read_text(encoding="utf-8"))
        if page not in {p["path"] for p in site["pages"]}:
            pages = [*site["pages"], {"path": page, "title": page}]
            site["pages"] = sorted(pages, key=lambda entry: str(entry["path"]))
            temporary = manifest.with_suffix(".tmp")
            temporary.write_text(json.dumps(site, ensure_ascii=False), encoding="utf-8")
            temporary.replace(manifest)  # atomically, as the builder writes it
        deadline = time.monotonic() + 10
        while self.presence(page)["page_online"] is None:
            assert time.monotonic() < deadline, f"the service did not take up {page}"
            time.sleep(0.1)

    def presence(self, page: str | None = None) -> dict[str, Any]:
        params = {"page": page} if page else {}
        answer = httpx.get(f"{self.base}/api/presence", params=params, timeout=5)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def tally(self, poll_id: str = POLL_ID) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.base}/api/admin/polls/{poll_id}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=5,
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


@pytest.fixture
def portal_factory(
    start_portal: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Portal]:
    """`portal_factory(env=..., site_dir=...)` starts a real `portal serve` we can add pages to."""

    def make(env: dict[str, str] | None = None, site_dir: Path | None = None) -> Portal:
        out = tmp_path_factory.mktemp("widget-site")
        base = start_portal(env=env, site_dir=site_dir, extra_args=["--out", str(out)])
        return Portal(base, out)

    return make


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class OtherSite:
    """A static web server on another site (`localhost` is cross-site from `127.0.0.1`)."""

    origin: str
    root: Path

    def page(self, name: str, body: str) -> str:
        (self.root / name).write_text(body, encoding="utf-8")
        return f"{self.origin}/{name}"


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[OtherSite]:
    root = tmp_path / "other-site"
    root.mkdir()
    port = free_port()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield OtherSite(f"http://localhost:{port}", root)
    server.shutdown()
    server.server_close()


@dataclass
class Problems:
    """Page errors, console errors and CSP violations seen on watched pages."""

    seen: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def allow(self, text: str) -> None:
        """Console errors containing `text` are expected in this test."""
        self.allowed.append(text)

    def unexpected(self) -> list[str]:
        return [p for p in self.seen if not any(a in p for a in self.allowed)]

    def watch(self, page: Any) -> Any:
        page.on("pageerror", lambda error: self.seen.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                # axe-core, injected by the test itself (no url), trips the CSP: not the widget
                and not (message.location.get("url") == "" and "Security Policy" in message.text)
                and self.seen.append(f"console error: {message.text} at {message.location}")
            ),
        )
        page.on(
            "response",
            lambda response: (
                response.status >= 500
                and self.seen.append(f"server error: {response.status} {response.url}")
            ),
        )
        return page


@pytest.fixture
def problems() -> Iterator[Problems]:
    found = Problems()
    yield found
    unexpected = found.unexpected()
    assert not unexpected, unexpected


def set_visibility(page: Any, state: str) -> None:
    """Make the page "hidden" or "visible" as a tab switch does, with its visibilitychange."""
    page.evaluate(
        """(state) => {
            Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def axe_source() -> str | None:
    """axe-core's axe.min.js: $AXE_CORE_JS, or node_modules/axe-core at the repository root."""
    candidates = [os.environ.get("AXE_CORE_JS", ""), str(REPO / "node_modules/axe-core/axe.min.js")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text(encoding="utf-8")
    return None


def axe_violations(page: Any, context: str | dict[str, Any]) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations in `context` (an axe context: a selector or
    {"include": [...]}), checked against WCAG 2.0/2.1 A and AA and best practices."""
    source = axe_source()
    if source is None:
        pytest.skip(
            "axe-core is not installed: npm install --no-save axe-core@4 (or set AXE_CORE_JS)"
        )
    # Injected over the DevTools protocol, so the page's CSP does not get in the way.
    page.evaluate(source)
    result = page.evaluate(
        """async (context) => {
            const r = await axe.run(context, {runOnly: {type: "tag",
                values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" "))}));
        }""",
        context,
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    if serious:
        print(json.dumps(serious, indent=2, ensure_ascii=False))
    return serious


def screenshot(page: Any, selector: str, name: str) -> None:
    """Save a PNG of one element into $PORTAL_SCREENSHOT_DIR when that is set."""
    directory = os.environ.get("PORTAL_SCREENSHOT_DIR")
    if directory and page.locator(selector).count():
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.locator(selector).first.screenshot(path=str(Path(directory) / f"{name}.png"))
