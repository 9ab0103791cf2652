"""Save-to-browser time: `portal serve` against `hugo server`, side by side, in Chromium.

    python bench/live_reload_bench.py [--articles 4000] [--rounds 9] [--quick]

Generates the same corpus as bench/build_bench.py for both tools, starts `portal serve` and
`hugo server` (both with their own live reload, as an editor runs them), opens the same older
article of each in headless Chromium, then, round after round and alternating which tool goes
first, appends a new paragraph to that article's source file and measures the time until the
page open in the browser shows it, with nobody touching the browser. Prints each tool's
median and the ratio; the target is a median of at most 0.3 s for `portal serve`.

Needs `hugo` on PATH (Debian: apt-get install hugo), Chromium at /usr/bin/chromium and a
Redis (REDIS_URL, default redis://127.0.0.1:6379/0; the keys go under a prefix of their own).
The machine should be quiet: the numbers are times, read them as a ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_bench import make_corpus, write_hugo, write_portal

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
EDITED = 17  # an older article, as in build_bench's one-edit build
SHOWS = "marker => document.body !== null && document.body.textContent.includes(marker)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not up after {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=out, cwd=REPO)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def start_portal(site: Path, root: Path, port: int) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PORTAL_REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "PORTAL_REDIS_PREFIX": f"bench-live-{os.getpid()}:",
        "PORTAL_SECRET_KEY": "bench-secret-key-0123456789",
        "PORTAL_DATA_DIR": str(root / "portal-data"),
    }
    args = [
        sys.executable, "-m", "portal", "serve", "--port", str(port),
        "--site", str(site), "--out", str(root / "portal-dist"),
    ]  # fmt: skip
    return args, env


def start_hugo(site: Path, port: int) -> list[str]:
    hugo = shutil.which("hugo")
    if hugo is None:
        raise SystemExit("hugo is not on PATH (Debian: apt-get install hugo)")
    return [
        hugo, "server", "--source", str(site), "--bind", "127.0.0.1", "--port", str(port),
        "--baseURL", f"http://127.0.0.1:{port}/", "--appendPort=false",
    ]  # fmt: skip


def portal_article_url(base: str, title: str) -> str:
    pages = httpx.get(base + "/_portal/site.json", timeout=10).json()["pages"]
    (path,) = (
        p["path"] for p in pages if p["path"].startswith("/bai-viet/") and title in p["title"]
    )
    return base + str(path)


class Announcements:
    """Reads `portal serve`'s /_portal/events in a thread and notes when each event came: the
    part of a save-to-browser time spent before the browser had anything to do."""

    def __init__(self, base: str) -> None:
        self.times: list[float] = []
        threading.Thread(target=self._read, args=(base,), daemon=True).start()

    def _read(self, base: str) -> None:
        with httpx.stream("GET", base + "/_portal/events", timeout=None) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    self.times.append(time.perf_counter())

    def first_after(self, started: float) -> float | None:
        later = [t for t in self.times if t > started]
        return later[0] - started if later else None


def save_to_shown(page: Any, source: Path, marker: str) -> float:
    """Append a paragraph to `source`; seconds until the open page shows it.

    Timed by the browser's own DOMContentLoaded events (no polling in the page: timers of a
    page that is not in front may be throttled), checking each loaded page for the paragraph.
    """
    text = source.read_text(encoding="utf-8") + f"\n{marker}\n"
    started = time.perf_counter()
    with page.expect_event("domcontentloaded", timeout=60_000):
        source.write_text(text, encoding="utf-8")
    while not page.evaluate(SHOWS, marker):
        with page.expect_event("domcontentloaded", timeout=60_000):
            pass
    return time.perf_counter() - started


def measure(
    tools: dict[str, tuple[Any, Path]], rounds: int, pause: float, announced: Announcements
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in [*tools, "portal announced"]}
    names = list(tools)
    for i in range(rounds + 1):  # round 0 warms both up and is not counted
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            page, source = tools[name]
            started = time.perf_counter()
            seconds = save_to_shown(page, source, f"Dòng đo thứ {i} của {name}.")
            if i > 0:
                times[name].append(seconds)
                if name == "portal serve":
                    times["portal announced"].append(announced.first_after(started) or 0.0)
            time.sleep(pause)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=None, help="default 4000")
    parser.add_argument("--rounds", type=int, default=None, help="default 9")
    parser.add_argument("--pause", type=float, default=1.5, help="seconds between saves")
    parser.add_argument("--quick", action="store_true", help="by default 400 articles, 3 rounds")
    args = parser.parse_args()
    args.articles = args.articles or (400 if args.quick else 4000)
    args.rounds = args.rounds or (3 if args.quick else 9)
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="portal-live-bench-"))
    try:
        corpus = make_corpus(args.articles)
        portal_site, hugo_site = write_portal(root, corpus), write_hugo(root, corpus)
        edited = corpus[EDITED]
        portal_port, hugo_port = free_port(), free_port()
        portal_args, portal_env = start_portal(portal_site, root, portal_port)
        portal_base, hugo_base = f"http://127.0.0.1:{portal_port}", f"http://127.0.0.1:{hugo_port}"
        with (
            running(portal_args, portal_env, root / "portal.log") as portal,
            running(start_hugo(hugo_site, hugo_port), dict(os.environ), root / "hugo.log") as hugo,
            sync_playwright() as playwright,
        ):
            wait_until_up(portal_base + "/healthz", portal, root / "portal.log", 600)
            wait_until_up(hugo_base + "/", hugo, root / "hugo.log", 600)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            portal_page, hugo_page = browser.new_page(), browser.new_page()
            portal_page.goto(portal_article_url(portal_base, edited["title"]))
            hugo_page.goto(f"{hugo_base}/bai-viet/{edited['file'].removesuffix('.md')}/")
            announced = Announcements(portal_base)
            time.sleep(1)
            times = measure(
                {
                    "portal serve": (portal_page, portal_site / "content" / edited["file"]),
                    "hugo server": (hugo_page, hugo_site / "content/bai-viet" / edited["file"]),
                },
                args.rounds,
                args.pause,
                announced,
            )
            browser.close()
        report(times, args.articles)
        rebuilds = [
            line.rsplit(" in ", 1)[-1]
            for line in (root / "portal.log").read_text(encoding="utf-8").splitlines()
            if line.startswith("portal serve: rebuilt after")
        ]
        print(f"  portal serve's own rebuild times: {' '.join(rebuilds)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def report(times: dict[str, list[float]], articles: int) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"save-to-browser, {articles} articles, {len(times['portal serve'])} rounds each:")
    for name, values in times.items():
        shown = " ".join(f"{v:.3f}" for v in values)
        print(f"  {name:16} median {medians[name]:.3f} s  (min {min(values):.3f}, all: {shown})")
    print("  (portal announced: save until its event stream announced the new build)")
    ratio = medians["portal serve"] / medians["hugo server"]
    target = "ok" if medians["portal serve"] <= 0.3 else "over the 0.3 s target"
    print(f"  ratio portal/hugo {ratio:.2f}; portal median {target}")


if __name__ == "__main__":
    sys.exit(main())
