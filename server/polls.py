"""Polls: their definitions (from `site.toml`), one vote per session, and tallies.

Each poll keeps two hashes under its own hash tag: ballots (session -> option, written
only if absent) and the tally (option -> votes, plus `:updated_at`). Casting a vote is one
Lua script, so a ballot is never recorded without being counted, nor counted twice. Votes
for one poll sent within one event-loop tick share one script call (see `server.batching`);
each vote still gets its own answer: counted or not, and the tally right after it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.batching import Coalescer
from server.store import RedisClient, load_script, run_scripts

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_UPDATED_AT = ":updated_at"


class PollConfigError(ValueError):
    """`site.toml` defines polls the service cannot serve; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Poll:
    id: str
    question: str
    options: tuple[Option, ...]
    open: bool = True

    def has_option(self, option_id: str) -> bool:
        return any(option.id == option_id for option in self.options)


@dataclass(frozen=True, slots=True)
class Tally:
    """What Redis holds for one poll; `voted` is the asking session's choice, if any."""

    votes: dict[str, int]
    voted: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class VoteResult:
    counted: bool
    tally: Tally


def load_polls(site_toml: Path) -> dict[str, Poll]:
    """The `[[polls]]` of a site.toml, checked; a missing file means no polls."""
    if not site_toml.exists():
        return {}
    try:
        data = tomllib.loads(site_toml.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PollConfigError(f"{site_toml}: not valid TOML: {exc}") from None
    polls: dict[str, Poll] = {}
    for index, entry in enumerate(data.get("polls", [])):
        where = f"{site_toml}: polls[{index}]"
        if not isinstance(entry, dict):
            raise PollConfigError(f"{where}: must be a table")
        poll_id, question = entry.get("id"), entry.get("question")
        if not isinstance(poll_id, str) or not _ID.match(poll_id):
            raise PollConfigError(f"{where}: id must be lowercase letters, digits and hyphens")
        if poll_id in polls:
            raise PollConfigError(f"{where}: duplicate poll id {poll_id!r}")
        if not isinstance(question, str) or not question.strip():
            raise PollConfigError(f"{where} ({poll_id}): question must be a non-empty string")
        is_open = entry.get("open", True)
        if not isinstance(is_open, bool):
            raise PollConfigError(f"{where} ({poll_id}): open must be true or false")
        polls[poll_id] = Poll(poll_id, question.strip(), _options(where, entry), is_open)
    return polls


def _options(where: str, entry: dict[str, Any]) -> tuple[Option, ...]:
    raw = entry.get("options")
    if not isinstance(raw, list) or len(raw) < 2:
        raise PollConfigError(f"{where}: options must be a list of at least two options")
    options: list[Option] = []
    for option in raw:
        option_id = option.get("id") if isinstance(option, dict) else None
        label = option.get("label") if isinstance(option, dict) else None
        if not isinstance(option_id, str) or not _ID.match(option_id):
            raise PollConfigError(f"{where}: option ids must be lowercase letters, digits, hyphens")
        if not isinstance(label, str) or not label.strip():
            raise PollConfigError(f"{where}: option {option_id!r} needs a label")
        if any(o.id == option_id for o in options):
            raise PollConfigError(f"{where}: duplicate option id {option_id!r}")
        options.append(Option(option_id, label.strip()))
    return tuple(options)


def _fields(flat: list[bytes]) -> dict[str, str]:
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


def _timestamp(stamp: str | bytes | None) -> datetime | None:
    return datetime.fromtimestamp(float(stamp), UTC) if stamp else None


def _decode_tally(poll: Poll, flat: list[bytes], voted: bytes | None) -> Tally:
    fields = _fields(flat)
    return Tally(
        votes={option.id: int(fields.get(option.id, 0)) for option in poll.options},
        voted=voted.decode() if voted else None,
        updated_at=_timestamp(fields.get(_UPDATED_AT)),
    )


class PollStore:
    """Reads tallies and casts votes for the configured polls."""

    def __init__(self, redis: RedisClient, prefix: str, polls: dict[str, Poll]) -> None:
        self.redis = redis
        self.polls = polls
        self._keys = {
            poll_id: [f"{prefix}{{poll:{poll_id}}}:ballots", f"{prefix}{{poll:{poll_id}}}:tally"]
            for poll_id in polls
        }
        self._vote = load_script(redis, "vote")
        self._read = load_script(redis, "poll_read")
        # One coalescer per poll: a script call may only touch one poll's keys (one hash slot).
        self._votes: dict[str, Coalescer[tuple[str, str], VoteResult]] = {
            poll_id: Coalescer(self._vote_batch_for(poll)) for poll_id, poll in polls.items()
        }

    async def tally(self, poll: Poll, session_id: str | None) -> Tally:
        voted, flat = await self._read(keys=self._keys[poll.id], args=[session_id or ""])
        return _decode_tally(poll, flat, voted)

    async def tallies(self, session_id: str | None) -> list[Tally]:
        """Every poll's tally, in one round trip (one per node on a cluster)."""
        polls = list(self.polls.values())
        results = await run_scripts(
            self.redis, [(self._read, self._keys[p.id], [session_id or ""]) for p in polls]
        )
        return [
            _decode_tally(p, flat, voted) for p, (voted, flat) in zip(polls, results, strict=True)
        ]

    async def vote(self, poll: Poll, session_id: str, option_id: str) -> VoteResult:
        """Cast `session_id`'s one vote; `counted` is False if it had voted already."""
        return await self._votes[poll.id]((session_id, option_id))

    def _vote_batch_for(
        self, poll: Poll
    ) -> Callable[[list[tuple[str, str]]], Awaitable[list[VoteResult]]]:
        keys = self._keys[poll.id]

        async def vote_batch(votes: list[tuple[str, str]]) -> list[VoteResult]:
            """One script call for many votes; each answered with the tally right after it."""
            args = [value for vote in votes for value in vote]
            before, stamp, flat = await self._vote(keys=keys, args=args)
            fields = _fields(before)
            counts = {option.id: int(fields.get(option.id, 0)) for option in poll.options}
            updated_at = _timestamp(fields.get(_UPDATED_AT))
            stamped = _timestamp(stamp)
            results = []
            for i in range(0, len(flat), 2):
                counted, choice = bool(flat[i]), flat[i + 1].decode()
                if counted:
                    counts[choice] = counts.get(choice, 0) + 1
                    updated_at = stamped
                results.append(VoteResult(counted, Tally(dict(counts), choice, updated_at)))
            return results

        return vote_batch


def poll_json(poll: Poll, tally: Tally) -> dict[str, Any]:
    """The public poll shape of the API."""
    return {
        "id": poll.id,
        "question": poll.question,
        "options": [
            {"id": o.id, "label": o.label, "votes": tally.votes[o.id]} for o in poll.options
        ],
        "total": sum(tally.votes.values()),
        "voted": tally.voted,
        "open": poll.open,
    }


def admin_tally_json(poll: Poll, tally: Tally) -> dict[str, Any]:
    """The poll shape plus `percent` per option and `updated_at`, for admins."""
    body = poll_json(poll, tally)
    percents = percentages([o["votes"] for o in body["options"]])
    for option, percent in zip(body["options"], percents, strict=True):
        option["percent"] = percent
    body["updated_at"] = tally.updated_at.isoformat() if tally.updated_at else None
    return body


def percentages(counts: list[int], decimals: int = 1) -> list[float]:
    """Shares of the total rounded so they add up to exactly 100 (largest remainder)."""
    total = sum(counts)
    if total == 0:
        return [0.0 for _ in counts]
    scale = 100 * 10**decimals
    exact = [count * scale / total for count in counts]
    floors = [int(value) for value in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: (floors[i] - exact[i], i))
    for i in by_remainder[: scale - sum(floors)]:
        floors[i] += 1
    return [value / 10**decimals for value in floors]
