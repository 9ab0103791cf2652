"""Coalescing: the calls one worker makes within one event-loop tick share one Redis round trip.

A round trip through redis-py costs far more client CPU than the Lua work it carries, so a
busy worker that sends one script per request spends its time in the client. `Coalescer`
collects the items submitted during a tick, hands them as one list to a batch function (one
Lua call answering each item its own result), and gives every caller its own answer. If the
batch fails, every caller gets the error. A batch holds at most `max_batch` items: a full one
is sent at once and the next tick's items start another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BatchFunction = Callable[[list[T]], Awaitable[Sequence[R]]]

DEFAULT_MAX_BATCH = 256


class Coalescer(Generic[T, R]):
    """`await coalescer(item)` answers what `run([... item ...])` answered for that item."""

    def __init__(self, run: BatchFunction[T, R], max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self._max_batch = max_batch
        self._items: list[T] = []
        self._waiters: list[asyncio.Future[R]] = []
        self._scheduled = False
        # Strong references: the event loop keeps only weak ones to running tasks.
        self._running: set[asyncio.Task[None]] = set()

    def __call__(self, item: T) -> asyncio.Future[R]:
        """`item`'s result, to await. A future rather than a coroutine: the caller's task
        waits on it directly, with no frame of ours to resume on the way back."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[R] = loop.create_future()
        self._items.append(item)
        self._waiters.append(waiter)
        if len(self._items) >= self._max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            # Runs after every callback already queued for this tick: the batch is this tick's.
            loop.call_soon(self._flush)
        return waiter

    def _flush(self) -> None:
        self._scheduled = False
        if not self._items:
            return
        items, waiters = self._items, self._waiters
        self._items, self._waiters = [], []
        task = asyncio.ensure_future(self._send(items, waiters))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _send(self, items: list[T], waiters: list[asyncio.Future[R]]) -> None:
        try:
            results = await self._run(items)
            if len(results) != len(items):
                raise RuntimeError(f"batch of {len(items)} answered {len(results)} results")
        except asyncio.CancelledError:
            for waiter in waiters:
                waiter.cancel()
            raise
        except Exception as exc:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for waiter, result in zip(waiters, results, strict=True):
            # A caller that went away (its request was cancelled) no longer listens.
            if not waiter.done():
                waiter.set_result(result)
