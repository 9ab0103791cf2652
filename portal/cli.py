"""`portal build` and `portal serve`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

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

    serve = commands.add_parser("serve", help="build, then serve the site, widgets and API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--site", type=Path, default=Path("site"), help="site directory")
    serve.add_argument("--out", type=Path, default=Path("dist"), help="where the site is built")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--no-watch", action="store_true", help="do not rebuild on changes")

    args = parser.parse_args(argv)
    if args.command == "build":
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


def _build(
    site: Path, out: Path, *, workers: int | None, quiet: bool, problems: TextIO | None = None
) -> int:
    """`problems`: where build errors go (stderr for `portal build`, stdout under `serve`)."""
    from portal.builder import BuildError, build_site

    try:
        report = build_site(site, out, workers=workers, quiet=quiet)
    except BuildError as exc:
        print(f"portal build: {exc}", file=problems or sys.stderr)
        return 1
    if not quiet:
        print(
            f"built {report.articles} articles into {out}: {report.pages_written} files written, "
            f"{report.pages_unchanged} unchanged, in {report.seconds:.2f} s",
            file=sys.stderr,
        )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from server.embedded import EmbeddedRedis
    from server.poll_config import load_polls
    from server.serving import current_limits
    from server.serving import run as run_server
    from server.settings import Settings, load_or_create_secret

    current_limits()  # fail before starting anything on a bad PORTAL_HTTP_* setting
    load_polls(args.site / "site.toml")  # fail before starting anything on a bad poll config
    if _build(args.site, args.out, workers=None, quiet=True, problems=sys.stdout) != 0:
        return 1
    env = os.environ
    env["PORTAL_SITE_DIR"] = str(args.site.resolve())
    env["PORTAL_STATIC_DIR"] = str(args.out.resolve())
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
            _watch_in_background(args.site, args.out, stop_watching)
        run_server(
            "server.app:create_app_from_env", host=args.host, port=args.port, workers=args.workers
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


def _watch_in_background(site: Path, out: Path, stop: threading.Event) -> None:
    from portal.builder import watch_site

    threading.Thread(target=watch_site, args=(site, out, stop), daemon=True).start()
