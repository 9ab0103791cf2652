"""Lighthouse (mobile) on the home page, an article and a tag page of the demo site.

    python bench/lighthouse.py [--quick] [--min-score 0.98] [--max-cls 0.01]

Starts `portal serve` (embedded Redis, a throwaway build directory) on the demo site, runs
`npx lighthouse` from npm in headless Chromium ($CHROME_PATH, default /usr/bin/chromium)
against each page, and prints the four category scores and the cumulative layout shift.
Exits 1 when a score is below --min-score or CLS above --max-cls. Scores depend on the
machine's load (Lighthouse simulates a slow phone from measured timings): run it on a
quiet machine. --quick checks the article page only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = {
    "home": "/",
    "article": "/bai-viet/ron-rang-le-hoi-dua-thuyen-truyen-thong-tren-song-may.html",
    "tag": "/the/le-hoi/",
}
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def serve(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PORTAL_SECRET_KEY": "lighthouse-bench-secret-key",
        "PORTAL_ADMIN_TOKEN": "lighthouse-bench-admin-token",
        "PORTAL_DATA_DIR": str(tmp / "data"),
    }
    args = [
        sys.executable, "-m", "portal", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--site", str(REPO / "site"), "--out", str(tmp / "dist"), "--no-watch",
    ]  # fmt: skip
    log = open(tmp / "serve.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(args, env=env, cwd=REPO, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit(f"portal serve did not start:\n{(tmp / 'serve.log').read_text()}")


def lighthouse(url: str, report: Path) -> dict[str, float]:
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    subprocess.run(
        ["npx", "--yes", "lighthouse@12", url, "--quiet", "--output=json",
         f"--output-path={report}", '--chrome-flags=--headless --no-sandbox'],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    data = json.loads(report.read_text(encoding="utf-8"))
    scores = {c: float(data["categories"][c]["score"]) for c in CATEGORIES}
    scores["cls"] = float(data["audits"]["cumulative-layout-shift"]["numericValue"])
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the article page only")
    parser.add_argument("--min-score", type=float, default=0.98)
    parser.add_argument("--max-cls", type=float, default=0.01)
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()
    pages = {"article": PAGES["article"]} if args.quick else PAGES
    failed = False
    with tempfile.TemporaryDirectory(prefix="portal-lighthouse-") as tmp:
        process = serve(Path(tmp), args.port)
        try:
            for name, path in pages.items():
                s = lighthouse(f"http://127.0.0.1:{args.port}{path}", Path(tmp) / f"{name}.json")
                line = " ".join(f"{c} {s[c] * 100:.0f}" for c in CATEGORIES)
                print(f"{name:<8} {line}  CLS {s['cls']:.3f}")
                low = any(s[c] < args.min_score for c in CATEGORIES)
                failed |= low or s["cls"] > args.max_cls
        finally:
            process.terminate()
            process.wait(15)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
