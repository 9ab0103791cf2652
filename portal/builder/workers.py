"""Where build work runs: a process pool made only when the work pays for it, progress
counts for long builds, and phase timings for profiling (PORTAL_BUILD_TIMINGS=1)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

# Below this many items, a process pool costs more than it saves.
POOL_THRESHOLD = 48

T = TypeVar("T")
R = TypeVar("R")


class Timings:
    """Stage durations on stderr when PORTAL_BUILD_TIMINGS is set (for profiling builds):
    wall time, this process's CPU time (steadier on a busy machine), and the CPU time of
    the workers that ended meanwhile (a pool's workers end when it is closed)."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("PORTAL_BUILD_TIMINGS"))
        self.last = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float]:
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter(), time.process_time(), children.ru_utime + children.ru_stime

    def mark(self, stage: str) -> None:
        if self.enabled:
            now = self._now()
            wall, cpu, workers = (a - b for a, b in zip(now, self.last, strict=True))
            print(
                f"  {stage:<22} {wall:6.3f} s  cpu {cpu:6.3f} s  workers' cpu {workers:6.3f} s",
                file=sys.stderr,
            )
            self.last = now


class Progress:
    """Counts on stderr for long builds (a live line on a terminal, else one per phase)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.label = ""
        self.total = 0
        self.done = 0
        self.last = 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.last = label, total, 0, 0.0

    def advance(self, n: int) -> None:
        self.done += n
        if self.quiet or not self.tty:
            return
        now = time.monotonic()
        if now - self.last > 0.1 or self.done >= self.total:
            self.last = now
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total}")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.quiet or self.total < POOL_THRESHOLD:
            return
        sys.stderr.write(("\r" if self.tty else "") + f"{self.label}: {self.done}/{self.total}\n")
        sys.stderr.flush()


def _chunks(items: Sequence[T], parts: int) -> list[list[T]]:
    size = max(1, -(-len(items) // parts))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


#: The jobs of the current `Pool.map_shared`, inherited by workers forked for it.
_SHARED: list[Any] = []


def _shared_chunk(fn: Callable[..., list[R]], args: tuple[Any, ...], indices: list[int]) -> list[R]:
    return fn(*args, [_SHARED[i] for i in indices])


class Pool:
    """A process pool made on first use, only for work big enough to pay for it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: Any = None  # a ProcessPoolExecutor, made (and imported) on first use

    def map_chunks(
        self,
        fn: Callable[..., list[R]],
        items: Sequence[T],
        progress: Progress,
        *args: Any,
        meanwhile: Callable[[], None] | None = None,
        threshold: int = POOL_THRESHOLD,
    ) -> list[R]:
        """`fn(*args, chunk)` over chunks of items, in workers when there are at least
        `threshold` (fewer for heavy items); `meanwhile` runs here while they work."""
        if self.workers <= 1 or len(items) < threshold:
            results: list[R] = []
            for chunk in _chunks(items, max(1, len(items) // 200)):
                results.extend(fn(*args, chunk))
                progress.advance(len(chunk))
            if meanwhile is not None:
                meanwhile()
            return results
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context(self.method())
            )
        chunks = _chunks(items, self.workers * 6)
        futures = {self.executor.submit(fn, *args, chunk): i for i, chunk in enumerate(chunks)}
        if meanwhile is not None:
            meanwhile()
        by_index: dict[int, list[R]] = {}
        for fut in as_completed(futures):
            by_index[futures[fut]] = fut.result()
            progress.advance(len(chunks[futures[fut]]))
        return [r for i in range(len(chunks)) for r in by_index[i]]

    def map_shared(
        self,
        fn: Callable[..., list[R]],
        jobs: Sequence[T],
        progress: Progress,
        *args: Any,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[R]:
        """`map_chunks` for jobs that workers forked from this process take from memory
        they share with it (only their numbers are sent). Workers are forked anew for
        it, so they also inherit whatever this process computed before (call
        `forks()` first: with spawned workers, send the jobs with `map_chunks`)."""
        self.refork()
        _SHARED[:] = jobs
        try:
            indices = range(len(jobs))
            return self.map_chunks(_shared_chunk, indices, progress, fn, args, meanwhile=meanwhile)
        finally:
            _SHARED.clear()

    @staticmethod
    def method() -> str:
        """fork is cheapest, but forking a process that runs other threads (the dev server)
        can deadlock: a fresh interpreter (spawn) then."""
        import multiprocessing

        methods = multiprocessing.get_all_start_methods()
        return "fork" if threading.active_count() == 1 and "fork" in methods else "spawn"

    def forks(self) -> bool:
        """Whether `map_shared` can be used: work runs here, or in forked workers (not
        while this process runs other threads, a running pool's included)."""
        return self.workers <= 1 or self.method() == "fork"

    def refork(self) -> None:
        """Let the next map's workers be forked from the process as it is now, so they
        inherit what it has computed instead of having it sent."""
        self.close()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None


def in_child(fn: Callable[[], object]) -> Callable[[], None]:
    """Run `fn` in a child process forked now, on another core, while this process goes
    on; returns what waits for the child to end (it can be called more than once). Where
    forking is unsafe (this process runs other threads) or unknown, `fn` runs here, now.
    The child ends without running this process's exit code."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        fn()
        return lambda: None
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn()
            code = 0
        finally:
            os._exit(code)

    def wait() -> None:
        with contextlib.suppress(ChildProcessError):  # waited for already
            os.waitpid(pid, 0)

    return wait


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
