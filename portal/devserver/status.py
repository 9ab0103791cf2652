"""The build status `portal serve`'s rebuild loop shares with the service workers, and what
it prints in the terminal.

The loop writes `BuildStatus` as JSON to one file (temporary name + rename, so a reader never
sees half of it); each worker follows that file (`portal.devserver.app`). A file rather than
memory because uvicorn's workers are separate processes: it works the same with one or many.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal.builder.watch import BuildOutcome

# Terminal lines past this many problems are summed up as "... and N more".
MAX_PROBLEM_LINES = 20


@dataclass(frozen=True)
class BuildStatus:
    """What the browser should show: `build` changes whenever the served site changed or a
    build started or stopped failing; `problems` (JSON records) when the last build failed."""

    build: str
    ok: bool
    problems: tuple[dict[str, Any], ...] = ()
    has_site: bool = True  # a good build is being served (else: the problem page)

    def as_json(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "ok": self.ok,
            "problems": list(self.problems),
            "has_site": self.has_site,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildStatus:
        return cls(
            str(data["build"]),
            bool(data["ok"]),
            tuple(data.get("problems") or ()),
            bool(data.get("has_site", True)),
        )


def problem_records(outcome: BuildOutcome) -> tuple[dict[str, Any], ...]:
    """The problems of a failed build as JSON records (a crash of the builder is one too)."""
    records = tuple(problem.as_json() for problem in outcome.problems)
    if outcome.crash is not None:
        crash = {"file": "", "line": None, "field": None, "hint": None}
        records += ({**crash, "message": f"the builder crashed: {outcome.crash}"},)
    return records


def read_status(path: Path) -> BuildStatus | None:
    """The status in `path`, or None when there is none (yet) or it cannot be read."""
    try:
        return BuildStatus.from_json(json.loads(path.read_bytes()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class StatusWriter:
    """Turns each rebuild into the status file the workers follow."""

    def __init__(self, path: Path, out_dir: Path) -> None:
        self.path = path
        self.out_dir = out_dir
        self._run = f"{int(time.time() * 1000):x}"  # a page of an earlier run reloads once
        self._count = itertools.count(1)
        self.current: BuildStatus | None = None

    def update(self, outcome: BuildOutcome) -> BuildStatus:
        problems = problem_records(outcome)
        has_site = (self.out_dir / "index.html").is_file()
        before = self.current
        changed = (
            before is None
            or before.ok != outcome.ok
            or before.problems != problems
            or before.has_site != has_site
            or _wrote_files(outcome)
        )
        build = f"{self._run}-{next(self._count)}" if changed or before is None else before.build
        self.current = BuildStatus(build, outcome.ok, problems, has_site)
        if changed:
            # Gone only while portal serve stops (it removes its state directory): no one is
            # left to read it then.
            with contextlib.suppress(FileNotFoundError):
                _write_atomically(self.path, json.dumps(self.current.as_json()).encode())
        return self.current


def _wrote_files(outcome: BuildOutcome) -> bool:
    report = outcome.report
    return report is not None and (report.pages_written > 0 or report.removed > 0)


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def outcome_lines(command: str, outcome: BuildOutcome, previous: BuildOutcome | None) -> list[str]:
    """What the terminal says about a rebuild, as `portal serve: ...` lines; nothing for a
    scheduled rebuild that changed nothing or failed again the same way."""
    if outcome.ok:
        assert outcome.report is not None
        quiet = outcome.trigger == "schedule" and not _wrote_files(outcome)
        if quiet and (previous is None or previous.ok):
            return []
        verb = "built" if outcome.trigger == "start" else f"rebuilt after {outcome.trigger}"
        return [f"{command}: {verb}: {outcome.report.summary()}"]
    records = problem_records(outcome)
    if (
        outcome.trigger == "schedule"
        and previous is not None
        and problem_records(previous) == records
    ):
        return []
    count = len(records)
    after = "" if outcome.trigger in ("start", "schedule") else f" after {outcome.trigger}"
    lines = [f"{command}: build failed{after}: {count} problem{'s' if count != 1 else ''}"]
    shown = [str(p) for p in outcome.problems] + (
        [f"the builder crashed: {outcome.crash}"] if outcome.crash else []
    )
    lines += [f"  {line}" for line in shown[:MAX_PROBLEM_LINES]]
    if len(shown) > MAX_PROBLEM_LINES:
        lines.append(f"  ... and {len(shown) - MAX_PROBLEM_LINES} more")
    return lines


def terminal_reporter(command: str) -> Callable[[BuildOutcome], None]:
    """An `on_build` callback printing `outcome_lines` on stdout."""
    previous: list[BuildOutcome] = []

    def report(outcome: BuildOutcome) -> None:
        for line in outcome_lines(command, outcome, previous[-1] if previous else None):
            print(line, flush=True)
        previous[:] = [outcome]

    return report
