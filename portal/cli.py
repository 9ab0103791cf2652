"""`portal build` and `portal serve`."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portal.builder.watch import BuildOutcome

# The service's modules are imported by `serve` only: `portal build` stays free of the web
# stack and Redis client, whose imports cost more than a no-change build.


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build the site into static HTML")
    build.add_argument("site", nargs="?", type=Path, default=Path("site"), help="site directory")
    build.add_argument("-o", "--out", type=Path, default=Path("dist"), help="output directory")
    build.add_argument(
        "--workers", type=int, default=None, help="parallel workers (default: all cores)"
    )
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.add_argument(
        "--watch",
        action="store_true",
        help="never exit: rebuild on every change and at every scheduled publication time",
    )

    serve = commands.add_parser("serve", help="build, then serve the site, widgets and API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--site", type=Path, default=Path("site"), help="site directory")
    serve.add_argument("--out", type=Path, default=Path("dist"), help="where the site is built")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--no-watch", action="store_true", help="do not rebuild on changes")
    serve.add_argument(
        "--drafts", action="store_true", help="also build drafts and future-dated articles"
    )
    serve.add_argument(
        "--no-live-reload",
        action="store_true",
        help="pages do not reload themselves after a rebuild",
    )

    args = parser.parse_args(argv)
    if args.command == "build":
        if args.watch:
            return _build_and_watch(args.site, args.out)
        return _build(args.site, args.out, workers=args.workers, quiet=args.quiet)
    import logging

    from server.embedded import EmbeddedRedisError
    from server.logs import configure_logging
    from server.poll_config import PollConfigError
    from server.serving import ServingError
    from server.settings import SettingsError

    configure_logging()  # from here on, stderr carries log lines only (JSON unless a terminal)
    try:
        return _serve(args)
    except (SettingsError, PollConfigError, EmbeddedRedisError, ServingError) as exc:
        logging.getLogger("portal").error("portal: %s", exc)
        return 2


def _build(site: Path, out: Path, *, workers: int | None, quiet: bool) -> int:
    from portal.builder import BuildError, build_site

    try:
        report = build_site(site, out, workers=workers, quiet=quiet)
    except BuildError as exc:
        print(f"portal build: {exc}", file=sys.stderr)
        return 1
    if not quiet:
        print(
            f"built {report.articles} articles into {out}: {report.pages_written} files written, "
            f"{report.pages_unchanged} unchanged, in {report.seconds:.2f} s",
            file=sys.stderr,
        )
    return 0


def _build_and_watch(site: Path, out: Path) -> int:
    """`portal build --watch`: the compose builder. Builds, then rebuilds on every change of
    the site and at every scheduled time, until stopped; a failed build keeps the last good
    site in place."""
    from portal.builder import watch_site
    from portal.devserver.status import terminal_reporter

    signal.signal(signal.SIGTERM, _exit_on_signal)
    with contextlib.suppress(KeyboardInterrupt):
        watch_site(site, out, threading.Event(), terminal_reporter("portal build"))
    return 0


def _serve(args: argparse.Namespace) -> int:
    rebuilds = _Rebuilds(args)
    try:
        return _serve_site(args, rebuilds)
    finally:
        rebuilds.cleanup()


def _serve_site(args: argparse.Namespace, rebuilds: _Rebuilds) -> int:
    from server.embedded import EmbeddedRedis
    from server.serving import current_limits
    from server.serving import run as run_server
    from server.settings import Settings, load_or_create_secret

    current_limits()  # fail before starting anything on a bad PORTAL_HTTP_* setting
    env = os.environ
    rebuilds.first_build()
    env["PORTAL_SITE_DIR"] = str(args.site.resolve())
    env["PORTAL_STATIC_DIR"] = str(args.out.absolute())
    embedded: EmbeddedRedis | None = None
    if not env.get("PORTAL_REDIS_URL"):
        data_dir = Path(env.get("PORTAL_DATA_DIR") or ".portal")
        embedded = EmbeddedRedis(data_dir)
        env["PORTAL_REDIS_URL"] = embedded.start()
        embedded.supervise()  # restarted on the same data if it dies; /readyz says 503 meanwhile
        if not env.get("PORTAL_SECRET_KEY"):
            env["PORTAL_SECRET_KEY"] = load_or_create_secret(data_dir)
        print(f"portal: embedded Redis at {embedded.url} (data in {data_dir})", flush=True)
    stop_watching = threading.Event()
    metrics_dir: str | None = None
    if args.workers > 1:
        # Each worker writes its metrics here and /metrics sums them all (prometheus_client's
        # multiprocess mode); fresh per run so counts from an earlier run never leak in.
        import tempfile

        metrics_dir = tempfile.mkdtemp(prefix="portal-metrics-")
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # uvicorn re-raises the SIGTERM it caught once it has shut down; turning that into
    # SystemExit lets the `finally` below stop the embedded Redis instead of orphaning it.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        Settings.from_env()  # report a bad setting here, once, not from every worker
        if not args.no_watch:
            rebuilds.start(stop_watching)
        run_server(
            "portal.devserver.app:create_dev_app_from_env",
            host=args.host,
            port=args.port,
            workers=args.workers,
        )
    finally:
        stop_watching.set()
        if metrics_dir is not None:
            import shutil

            shutil.rmtree(metrics_dir, ignore_errors=True)
        if embedded is not None:
            embedded.stop()
    return 0


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class _Rebuilds:
    """`portal serve`'s builds: the first one, then the rebuild loop in a thread. Each build
    is reported in the terminal and in the status file the workers follow (live reload, the
    problem page): see `portal.devserver`."""

    def __init__(self, args: argparse.Namespace) -> None:
        import tempfile

        from portal.devserver.app import LIVE_RELOAD_ENV, STATUS_ENV
        from portal.devserver.status import StatusWriter, terminal_reporter

        self.site: Path = args.site
        self.out: Path = args.out
        self.drafts: bool = args.drafts
        self.state_dir = Path(tempfile.mkdtemp(prefix="portal-serve-"))
        self.status = StatusWriter(self.state_dir / "build.json", self.out)
        self.terminal = terminal_reporter("portal serve")
        os.environ[STATUS_ENV] = str(self.status.path)
        os.environ[LIVE_RELOAD_ENV] = "0" if args.no_live_reload else "1"
        self.last: BuildOutcome | None = None

    def report(self, outcome: BuildOutcome) -> None:
        self.terminal(outcome)
        self.status.update(outcome)

    def first_build(self) -> None:
        """Build before serving. A failed build does not stop `portal serve`: the last good
        site stays served or, with none, a page listing the problems (until the first good
        build, the build directory is an empty one)."""
        from portal.builder.watch import build_once

        self.last = build_once(self.site, self.out, drafts=self.drafts)
        if not self.last.ok and not self.out.exists():
            self.out.mkdir(parents=True)
        self.report(self.last)

    def start(self, stop: threading.Event) -> None:
        """The rebuild loop, in a thread that ends when `stop` is set."""
        from portal.builder import watch_site

        threading.Thread(
            target=watch_site,
            args=(self.site, self.out, stop, self.report),
            kwargs={"drafts": self.drafts, "last": self.last},
            name="portal-rebuilds",
            daemon=True,
        ).start()

    def cleanup(self) -> None:
        import shutil

        shutil.rmtree(self.state_dir, ignore_errors=True)
