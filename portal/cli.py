"""`portal build` and `portal serve`."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.builder.watch import BuildOutcome

# The service's modules are imported by `serve` only: `portal build` stays free of the web
# stack and Redis client, whose imports cost more than a no-change build.


def run() -> None:
    """The `portal` command (`main`, ending the process as a command line tool should)."""
    sys.exit(main(hard_exit=True))


def main(argv: list[str] | None = None, *, hard_exit: bool = False) -> int:
    """`hard_exit`: end the process once a one-off build is done (see `_end_now`)."""
    args = _parser().parse_args(argv)
    if args.command == "build":
        if args.watch:
            return _build_and_watch(args.site, args.out)
        if hard_exit:
            # The build turns the cyclic collector off while it runs and back on at its end,
            # where a first pass would scan all it made (20 ms after an editor's one edit):
            # for a build that ends the process, it stays off.
            gc.disable()
        code = _build(args.site, args.out, workers=args.workers, quiet=args.quiet)
        if hard_exit:
            _end_now(code)
        return code
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
        logging.getLogger("portal").error("portal serve: %s", exc)
        return 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("portal")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """`--version`, looked up only when asked: importlib.metadata costs a build 45 ms."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"portal {_version()}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """A command's parser whose epilog is made only when its help is shown: `portal serve`
    lists the service's environment variables, an import of its settings that cost every
    `portal build` 20 ms."""

    def __init__(self, *args: Any, epilog_from: Callable[[], str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.epilog_from = epilog_from

    def format_help(self) -> str:
        if self.epilog_from is not None:
            self.epilog = self.epilog_from()
        return super().format_help()


def _parser() -> argparse.ArgumentParser:
    defaults = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the version")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    build = commands.add_parser(
        "build", help="build the site into static HTML", formatter_class=defaults
    )
    build.add_argument("site", nargs="?", type=Path, default=Path("site"), help="site directory")
    build.add_argument("-o", "--out", type=Path, default=Path("dist"), help="output directory")
    build.add_argument(
        "--workers", type=int, default=None, help="parallel workers (None: one per core)"
    )
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.add_argument(
        "--watch",
        action="store_true",
        help="never exit: rebuild on every change and at every scheduled publication time",
    )

    serve = commands.add_parser(
        "serve",
        help="build, then serve the site, widgets and API",
        description="Build the site, then serve it with the widgets, the API and the admin "
        "console from one origin, rebuilding on every change. Without PORTAL_REDIS_URL it "
        "starts an embedded Redis with its data in PORTAL_DATA_DIR.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog_from=_environment_help,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--site", type=Path, default=Path("site"), help="site directory (default: %(default)s)"
    )
    serve.add_argument(
        "--out",
        type=Path,
        default=Path("dist"),
        help="where the site is built (default: %(default)s)",
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (default: %(default)s)"
    )
    serve.add_argument("--no-watch", action="store_true", help="do not rebuild on changes")
    serve.add_argument(
        "--drafts", action="store_true", help="also build drafts and future-dated articles"
    )
    serve.add_argument(
        "--no-live-reload",
        action="store_true",
        help="pages do not reload themselves after a rebuild",
    )
    return parser


def _environment_help() -> str:
    from server.settings import ENVIRONMENT

    width = max(len(name) for name, _, _ in ENVIRONMENT)
    lines = [
        f"  {name:<{width}}  {meaning} (default: {default})"
        for name, default, meaning in ENVIRONMENT
    ]
    return "environment variables:\n" + "\n".join(lines)


def _banner(args: argparse.Namespace, redis: str) -> None:
    """Where to open what, on stdout, once the first build is done and before serving."""
    import json

    from portal.builder.urls import SITE_MANIFEST
    from server.settings import Settings

    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    base = f"http://{host if ':' not in host else f'[{host}]'}:{args.port}"
    try:
        pages = len(json.loads((args.out / SITE_MANIFEST).read_bytes())["pages"])
        built = f"{pages} pages"
    except (OSError, ValueError, KeyError):
        built = "no site built yet"
    admin = Settings.from_env().admin_token is not None
    console = f"{base}/admin/" if admin else "off (set PORTAL_ADMIN_TOKEN, 16+ characters)"
    print(
        f"portal serve {_version()}: {built} from {args.site}/ in {args.out}/\n"
        f"  site      {base}/\n"
        f"  console   {console}\n"
        f"  API       {base}/api/  (described at {base}/api/openapi.json)\n"
        f"  Redis     {redis}\n"
        "  stop with Ctrl+C",
        flush=True,
    )


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


def _end_now(code: int) -> None:
    """End the process without the interpreter's teardown, which frees a big site's
    objects one by one: 0.2 s of a 4,000-article build, for memory the system takes back
    at once anyway (mypy ends the same way). Output is flushed and the builder's threads
    (deleting an old generation) are waited for; its worker processes have ended."""
    sys.stdout.flush()
    sys.stderr.flush()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    os._exit(code)


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
    redis = "PORTAL_REDIS_URL"
    if not env.get("PORTAL_REDIS_URL"):
        data_dir = Path(env.get("PORTAL_DATA_DIR") or ".portal")
        embedded = EmbeddedRedis(data_dir)
        env["PORTAL_REDIS_URL"] = embedded.start()
        embedded.supervise()  # restarted on the same data if it dies; /readyz says 503 meanwhile
        if not env.get("PORTAL_SECRET_KEY"):
            env["PORTAL_SECRET_KEY"] = load_or_create_secret(data_dir)
        redis = f"embedded Redis at {embedded.url} (data in {data_dir}/)"
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
        _banner(args, redis)
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
