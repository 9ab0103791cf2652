"""Atomic output: `<out>` is a symlink to a generation directory `<out>.gen/<n>`.

A build writes generation n+1 beside the served generation n, then points `<out>` at it
with one atomic rename: a web server serves either the old site or the new one, never a
mix. Every file is written to a temporary name and renamed, never changed in place, so
generations share the files they have in common (hard links) without one build touching
what another generation serves.

A generation that stops being served is left alone for RETIRED_SECONDS, for readers
still on it. After that a build recycles it: it brings it up to date with the files the
last build changed (hard links, O(changes)), then writes its own changes; older ones are
deleted (renamed aside at once, their files deleted by a thread). Otherwise (the first
build, builds in quick succession, after an interrupted one) a build starts from a copy of
the whole served tree, as hard links: made ahead by a rebuild loop while it waits for
changes (`prepare_next`), or then and there.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

GEN_SUFFIX = ".gen"
#: How long a generation that stopped being served is left alone (for readers that
#: started on it, e.g. a slow download or someone copying the site), before a build may
#: recycle or delete it.
RETIRED_SECONDS = 30.0
#: The marker of a copy of the served generation made ahead of the next build (it holds the
#: name of the generation it copies).
PREPARED = "prepared"


def generations_dir(out_dir: Path) -> Path:
    """`<out>.gen`, beside `<out>`."""
    return out_dir.with_name(out_dir.name + GEN_SUFFIX)


def current_generation(out_dir: Path) -> Path | None:
    """The generation `<out>` points at (None when it is missing or not ours)."""
    if not out_dir.is_symlink():
        return None
    target = out_dir.parent / os.readlink(out_dir)
    return target if target.is_dir() else None


def prepare_next(out_dir: Path, threads: int = 2) -> None:
    """Copy the served generation, as hard links, for the next build to start from, unless
    such a copy is there. A rebuild loop calls this while it waits for changes: a build
    that comes before the spare generation may be recycled (see RETIRED_SECONDS) then
    starts from this copy instead of linking the whole tree first."""
    out_dir = out_dir.absolute()
    served = current_generation(out_dir)
    gens = generations_dir(out_dir)
    if served is None:
        return
    numbers = [0]
    for path in gens.iterdir():
        if (number := _number(path)) < 0:
            continue
        numbers.append(number)
        marker = _marker(path, PREPARED)
        if marker.is_file() and marker.read_text(encoding="utf-8") == served.name:
            return
    target = gens / str(max(numbers) + 1)
    building = _marker(target, "building")  # an interrupted copy is deleted later
    building.touch()
    _link_tree(str(served), str(target), threads)
    _marker(target, PREPARED).write_text(served.name, encoding="utf-8")
    building.unlink()


def prepare_meanwhile(out_dir: Path, last_base: str) -> Callable[[], None]:
    """`prepare_next` in a child process, beside a build that goes on parsing and
    resolving meanwhile (on another core); returns what waits for it to end. Nothing is
    done when the spare generation `last_base` (see Generation) will be recycled, or where
    forking is unsafe (other threads) or unknown: the build then links the tree itself.
    The waiting can be done more than once (a failed build waits too)."""
    from .workers import in_child

    out_dir = out_dir.absolute()
    spare = generations_dir(out_dir) / last_base if last_base else None
    if (
        current_generation(out_dir) is None
        or (spare is not None and spare.is_dir() and _is_free(spare))
        or not hasattr(os, "fork")
        or threading.active_count() > 1
    ):
        return lambda: None
    # One thread: the build goes on on the other core.
    return in_child(lambda: prepare_next(out_dir, threads=1))


def _marker(generation: Path, state: str) -> Path:
    """`<out>.gen/.<n>.<state>`: what is known of generation n ("building", "retired",
    PREPARED)."""
    return generation.with_name(f".{generation.name}.{state}")


def _delete_later(path: Path) -> None:
    """Delete a tree nobody reads any more, in a thread (a big site's takes a while)."""
    threading.Thread(target=shutil.rmtree, args=(path, True), name="portal-tidy").start()


def _is_free(generation: Path) -> bool:
    """Not served for RETIRED_SECONDS (readers are done with it), and complete."""
    if _marker(generation, "building").exists():
        return True  # an interrupted build's: never served
    try:
        retired = _marker(generation, "retired").stat().st_mtime
    except FileNotFoundError:
        return True
    return time.time() - retired >= RETIRED_SECONDS


def _number(path: Path) -> int:
    return int(path.name) if path.name.isdigit() else -1


def _link_tree(src: str, dst: str, threads: int = 2) -> None:
    """Copy a tree as hard links (directories are made, files linked). Each directory's
    links are made by one of two threads (link() waits on its directory, not on Python):
    a site's few big directories (articles, downloads) fill in side by side."""
    from concurrent.futures import ThreadPoolExecutor  # (not imported by most builds)

    groups: list[list[tuple[str, str]]] = []
    _plan_links(src, dst, groups)
    groups.sort(key=len, reverse=True)
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(_link_all, groups):
            pass


def _plan_links(src: str, dst: str, groups: list[list[tuple[str, str]]]) -> None:
    """Make `dst`'s directories; list the links to make, one group per directory."""
    os.makedirs(dst, exist_ok=True)
    links: list[tuple[str, str]] = []
    with os.scandir(src) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _plan_links(entry.path, os.path.join(dst, entry.name), groups)
            elif not entry.name.endswith(".tmp"):  # not a crashed build's temporary file
                links.append((entry.path, os.path.join(dst, entry.name)))
    if links:
        groups.append(links)


def _link_all(links: list[tuple[str, str]]) -> None:
    for src, dst in links:
        os.link(src, dst)


def _replace_with_link(src: str, dst: str) -> None:
    """Make `dst` a hard link to `src`, atomically (a reader sees the old or the new)."""
    tmp = f"{dst}.{os.getpid()}.link.tmp"
    try:
        os.link(src, tmp)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.link(src, tmp)
    os.replace(tmp, dst)


class Generation:
    """The directory a build writes into, made the served one by `commit()`.

    `last_changes`: the files the last build wrote or removed, when it built the served
    generation from the spare one (`last_base`); then the spare can be recycled.
    """

    def __init__(
        self,
        out_dir: Path,
        last_changes: Collection[str] | None = None,
        last_base: str | None = None,
    ) -> None:
        self.out_dir = out_dir.absolute()
        self.gens = generations_dir(self.out_dir)
        self.gens.mkdir(parents=True, exist_ok=True)
        self.previous = current_generation(self.out_dir)
        self.legacy = self.out_dir.is_dir() and not self.out_dir.is_symlink()
        others = sorted(
            (p for p in self.gens.iterdir() if _number(p) >= 0 and p != self.previous),
            key=_number,
        )
        served = _number(self.previous) if self.previous is not None else 0
        self.dir = self.gens / str(max([_number(p) for p in others] + [served]) + 1)
        self.marker = _marker(self.dir, "building")
        for trash in self.gens.glob(".trash-*"):
            if f"-{os.getpid()}-" not in trash.name:  # left by a process that stopped
                _delete_later(trash)
        prepared = self._prepared_copy(others)
        others = [p for p in others if p != prepared]
        free = [p for p in others if _is_free(p)]
        spare = others[-1] if others else None
        recyclable = (
            self.previous is not None
            and spare in free
            and last_changes is not None
            and spare.name == last_base
        )
        for path in free:  # the spare is recycled or, with the others, goes
            if not (recyclable and path == spare):
                self._discard(path)
        if prepared is not None and recyclable:  # recycling writes less
            self._discard(prepared)
            prepared = None
        self.marker.touch()  # until commit: this generation is not a known state
        if recyclable:
            assert spare is not None and self.previous is not None and last_changes is not None
            os.rename(spare, self.dir)
            _marker(spare, "retired").unlink(missing_ok=True)
            self._catch_up(self.previous, last_changes)
        elif prepared is not None:
            os.rename(prepared, self.dir)
            _marker(prepared, PREPARED).unlink()
        elif (source := self.previous or (self.out_dir if self.legacy else None)) is not None:
            _link_tree(str(source), str(self.dir))
        else:
            self.dir.mkdir()

    def _prepared_copy(self, others: list[Path]) -> Path | None:
        """A complete copy of the served generation made by `prepare_next`, if any."""
        for path in others:
            marker = _marker(path, PREPARED)
            if (
                self.previous is not None
                and marker.is_file()
                and marker.read_text(encoding="utf-8") == self.previous.name
                and not _marker(path, "building").exists()
            ):
                return path
        return None

    def _discard(self, generation: Path) -> None:
        """Delete a generation nobody reads: set aside at once (one rename), its files
        deleted by a thread meanwhile (tens of milliseconds for a big site)."""
        trash = self.gens / f".trash-{generation.name}-{os.getpid()}-{time.monotonic_ns()}"
        try:
            os.rename(generation, trash)
        except FileNotFoundError:
            pass
        else:
            _delete_later(trash)
        for state in ("retired", PREPARED, "building"):
            _marker(generation, state).unlink(missing_ok=True)

    def _catch_up(self, served: Path, changes: Collection[str]) -> None:
        """Make the recycled generation equal to the served one: it lacks `changes`."""
        for rel in changes:
            src, dst = os.path.join(served, rel), os.path.join(self.dir, rel)
            if os.path.isfile(src):
                _replace_with_link(src, dst)
            else:
                Path(dst).unlink(missing_ok=True)

    def commit(self) -> None:
        """Make this generation the served one, atomically."""
        link = self.out_dir.with_name(f".{self.out_dir.name}.{os.getpid()}.link")
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(os.path.relpath(self.dir, self.out_dir.parent), link)
        if self.legacy:
            # Once, from the old layout (a plain directory): a rename cannot replace a
            # directory with a symlink, so there is a moment without `<out>` here.
            old = self.out_dir.with_name(f".{self.out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.rename(self.out_dir, old)
            os.replace(link, self.out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(link, self.out_dir)
        self.marker.unlink()
        if self.previous is not None:
            _marker(self.previous, "retired").touch()

    def abandon(self) -> None:
        """A failed build: the served generation is untouched; drop the unfinished one."""
        shutil.rmtree(self.dir, ignore_errors=True)
        self.marker.unlink(missing_ok=True)
