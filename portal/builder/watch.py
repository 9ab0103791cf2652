"""`watch_site`: rebuild whenever something under the site directory changes, and when a
scheduled change (an article's publish time, a poll opening or closing) comes."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

from .build import BuildReport, build_site
from .errors import BuildError, Problem
from .output import generations_dir

#: Called after each build with why it ran and its report, or the error with every problem.
OnBuild = Callable[[str, BuildReport | BuildError], None]


def print_outcome(reason: str, outcome: BuildReport | BuildError) -> None:
    """The default: a few readable lines on stdout, one per problem."""
    if isinstance(outcome, BuildError):
        n = len(outcome.problems)
        print(f"portal: build failed after {reason}: {n} problem{'s' * (n != 1)}", flush=True)
        for problem in outcome.problems:
            print(f"  {problem}", flush=True)
    else:
        print(f"portal: rebuilt after {reason}: {outcome.summary()}", flush=True)


def _relevant(site_dir: Path, out_dir: Path, changed: str) -> bool:
    path = Path(changed)
    name = path.name
    # Editor swap/backup files and our own output or cache never trigger a rebuild.
    if name.startswith(".") or name.endswith(("~", ".swp", ".tmp")):
        return False
    absolute = path.absolute()
    for ours in (out_dir.absolute(), generations_dir(out_dir.absolute())):
        if absolute == ours or ours in absolute.parents:
            return False
    return ".portal-cache" not in path.parts


def _describe(paths: set[str]) -> str:
    names = sorted({Path(p).name for p in paths})
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return "change to " + ", ".join(names[:3]) + more


def watch_site(
    site_dir: Path,
    out_dir: Path,
    stop: threading.Event,
    *,
    drafts: bool = False,
    next_change: dt.datetime | None = None,
    on_build: OnBuild = print_outcome,
) -> None:
    """Block, rebuilding `out_dir` after changes under `site_dir` and at each scheduled
    change, until `stop` is set. `next_change` is the first build's (its report says it).
    A broken article never stops the watcher: the last good build stays served.
    """
    from watchfiles import watch

    site_dir = Path(site_dir)
    out_dir = Path(out_dir)
    for changes in watch(
        site_dir,
        stop_event=stop,
        watch_filter=lambda _change, path: _relevant(site_dir, out_dir, path),
        debounce=200,
        rust_timeout=500,
        yield_on_timeout=True,  # an empty set twice a second: time to check the clock
        raise_interrupt=False,
    ):
        if stop.is_set():
            break
        if changes:
            reason = _describe({p for _, p in changes})
        elif next_change is not None and dt.datetime.now(dt.UTC) >= next_change:
            reason = f"the scheduled time {next_change.isoformat(timespec='minutes')}"
        else:
            continue
        outcome = _build(site_dir, out_dir, drafts)
        if isinstance(outcome, BuildReport):
            next_change = outcome.next_change
        elif not changes:
            next_change = None  # don't retry twice a second: the fix is an edit, watched
        on_build(reason, outcome)


def _build(site_dir: Path, out_dir: Path, drafts: bool) -> BuildReport | BuildError:
    try:
        return build_site(site_dir, out_dir, quiet=True, drafts=drafts)
    except BuildError as exc:
        return exc
    except Exception as exc:  # keep serving the last good build
        message = f"the build crashed: {exc!r}"
        hint = "this is a bug in portal; the last good site is still served"
        return BuildError([Problem("site", None, None, message, hint)])
