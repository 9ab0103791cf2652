"""`watch_site`: rebuild when something under the site directory changes, and when the clock
reaches the next scheduled change (an article's publication time, a poll opening or closing).

The one rebuild loop of `portal serve` and `portal build --watch` (the compose builder). What
a rebuild came to is handed to a callback as a `BuildOutcome`; the loop itself prints nothing,
so each command says it in its own words.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .build import BuildReport, build_site
from .errors import BuildError, Problem
from .output import generations_dir, prepare_next

# Rebuild at least this often even with no change seen: the fallback for a scheduled time the
# build did not announce, or a file system whose change events do not reach us.
FALLBACK_SECONDS = 60.0
# How long the file watcher waits for more changes after the first one: an editor's save
# (write a temporary file, rename it) comes as a burst within a few milliseconds.
QUIET_MS = 25


@dataclass(frozen=True)
class BuildOutcome:
    """One rebuild: the report of a good build, or the problems of a failed one."""

    trigger: str  # what started it: "start", "change to a.md", "schedule"
    report: BuildReport | None
    problems: tuple[Problem, ...] = ()
    crash: str | None = None  # an unexpected exception (a bug), as text

    @property
    def ok(self) -> bool:
        return self.report is not None


def build_once(
    site_dir: Path, out_dir: Path, *, drafts: bool = False, trigger: str = "start"
) -> BuildOutcome:
    """One build, never raising: bad content and crashes become the outcome."""
    try:
        report = build_site(site_dir, out_dir, quiet=True, drafts=drafts)
    except BuildError as exc:
        return BuildOutcome(trigger, None, tuple(exc.problems))
    except Exception as exc:  # keep serving the last good build whatever happened
        return BuildOutcome(trigger, None, crash=repr(exc))
    return BuildOutcome(trigger, report)


def next_due(outcome: BuildOutcome, now: float) -> float:
    """The wall-clock time (epoch seconds) of the next rebuild with no change seen."""
    due = now + FALLBACK_SECONDS
    change: dt.datetime | None = outcome.report.next_change if outcome.report else None
    if change is not None:
        due = min(due, change.timestamp())
    return due


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


def describe(changed: Iterable[str]) -> str:
    """'change to a.md, b.md and 3 more'."""
    names = sorted({Path(p).name for p in changed})
    what = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"change to {what}"


def watch_site(
    site_dir: Path,
    out_dir: Path,
    stop: threading.Event,
    on_build: Callable[[BuildOutcome], None],
    *,
    drafts: bool = False,
    last: BuildOutcome | None = None,
) -> None:
    """Block, rebuilding `out_dir` from `site_dir` until `stop` is set: after each change,
    at the next scheduled change the last build announced, and at least every minute.

    `last` is the build the caller already made (none: build first). A broken article or a
    crash of the builder never stops the loop.
    """
    from watchfiles import watch

    site_dir = Path(site_dir)
    out_dir = Path(out_dir)
    if last is None:
        last = build_once(site_dir, out_dir, drafts=drafts)
        on_build(last)
    due = next_due(last, time.time())
    prepared = False
    for changes in watch(
        site_dir,
        stop_event=stop,
        watch_filter=lambda _change, path: _relevant(site_dir, out_dir, path),
        step=QUIET_MS,
        debounce=400,
        rust_timeout=1000,  # wake every second to look at the clock
        yield_on_timeout=True,
        raise_interrupt=False,
    ):
        if stop.is_set():
            break
        if changes:
            trigger = describe(p for _, p in changes)
        elif time.time() >= due:
            trigger = "schedule"
        else:
            if not prepared:  # a quiet second: ready the next build's directory
                with contextlib.suppress(OSError):  # only ever a speed-up
                    prepare_next(out_dir)
                prepared = True
            continue
        last = build_once(site_dir, out_dir, drafts=drafts, trigger=trigger)
        on_build(last)
        due = next_due(last, time.time())
        prepared = False
