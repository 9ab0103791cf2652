"""Polls in Redis: one vote per session, and tallies (definitions: `server.poll_config`).

Each poll keeps two hashes under its own hash tag: ballots (session -> option, written
only if absent) and the tally (option -> votes, plus `:updated_at`). Casting a vote is one
Lua script, so a ballot is never recorded without being counted, nor counted twice. Votes
for one poll sent within one event-loop tick share one script call (see `server.batching`);
each vote still gets its own answer: counted or not, and the tally right after it.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from server.batching import Coalescer
from server.catalog import SiteCatalog
from server.poll_config import Poll
from server.store import RedisClient, load_script, run_scripts
from server.timebuckets import utc_offset

_UPDATED_AT = ":updated_at"
_log = logging.getLogger(__name__)


class Tally(NamedTuple):
    """What Redis holds for one poll; `voted` is the asking session's choice, if any. (Named
    tuples, this and `VoteResult`: a vote makes one of each.)"""

    votes: dict[str, int]
    """Every option with counted votes, options no longer in `site.toml` ("retired") too."""
    voted: str | None
    updated_at: datetime | None

    @property
    def total(self) -> int:
        """Every ballot counted, those for retired options included."""
        return sum(self.votes.values())


class VoteResult(NamedTuple):
    counted: bool
    tally: Tally


def poll_tag(prefix: str, poll_id: str) -> str:
    """The start of every key of one poll: they share its hash tag (one Redis Cluster slot)."""
    return f"{prefix}{{poll:{poll_id}}}"


@dataclass(frozen=True, slots=True)
class PollHistoryKeys:
    """The keys of a poll's history, beside its ballots and tally (see `vote.lua`)."""

    prefix: str
    poll_id: str

    @property
    def series(self) -> str:
        return f"{poll_tag(self.prefix, self.poll_id)}:series"

    @property
    def prefixes(self) -> str:
        return f"{poll_tag(self.prefix, self.poll_id)}:prefixes"

    def cast(self, voter: str) -> str:
        return f"{poll_tag(self.prefix, self.poll_id)}:cast:{voter}"


def _fields(flat: list[bytes]) -> dict[str, str]:
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


def _timestamp(stamp: str | bytes | None) -> datetime | None:
    return datetime.fromtimestamp(float(stamp), UTC) if stamp else None


def _decode_tally(poll: Poll, flat: list[bytes], voted: bytes | None) -> Tally:
    fields = _fields(flat)
    votes = {option.id: int(fields.get(option.id, 0)) for option in poll.options}
    for field, value in fields.items():
        if field not in votes and not field.startswith(":") and int(value) > 0:
            votes[field] = int(value)  # a retired option: its votes stay counted
    return Tally(votes, voted.decode() if voted else None, _timestamp(fields.get(_UPDATED_AT)))


class PollStore:
    """Reads tallies and casts votes for the polls the site defines now (`catalog.polls`)."""

    def __init__(self, redis: RedisClient, prefix: str, catalog: SiteCatalog) -> None:
        self.redis = redis
        self.catalog = catalog
        self._prefix = prefix
        self._vote = load_script(redis, "vote")
        self._read = load_script(redis, "poll_read")
        # One coalescer per poll: a script call may only touch one poll's keys (one hash slot).
        self._votes: dict[Poll, Coalescer[tuple[str, str, str], VoteResult]] = {}

    @property
    def polls(self) -> dict[str, Poll]:
        return self.catalog.polls

    def _keys(self, poll_id: str) -> list[str]:
        tag = poll_tag(self._prefix, poll_id)
        return [f"{tag}:ballots", f"{tag}:tally"]

    def keys_of(self, poll_id: str) -> tuple[str, str]:
        """The poll's ballots and tally keys."""
        ballots, tally = self._keys(poll_id)
        return ballots, tally

    async def tally(self, poll: Poll, session_id: str | None) -> Tally:
        voted, flat = await self._read(keys=self._keys(poll.id), args=[session_id or ""])
        return _decode_tally(poll, flat, voted)

    async def warn_retired(self, before: dict[str, Poll]) -> None:
        """Log each option that has counted votes and is gone from the polls now defined: its
        votes stay counted (and shown to admins as retired), never hidden."""
        for poll_id, old in before.items():
            new = self.polls.get(poll_id)
            gone = [o.id for o in old.options if new is None or not new.has_option(o.id)]
            if not gone:
                continue
            counts = await self.redis.hmget(self._keys(poll_id)[1], gone)
            for option_id, count in zip(gone, counts, strict=True):
                if count and int(count) > 0:
                    _log.warning(
                        "poll %s: option %s has %s votes and is no longer in site.toml; "
                        "its votes stay counted and admins see it as retired",
                        poll_id,
                        option_id,
                        int(count),
                    )

    async def tallies(self, session_id: str | None) -> list[Tally]:
        """Every poll's tally, in one round trip (one per node on a cluster)."""
        polls = list(self.polls.values())
        results = await run_scripts(
            self.redis, [(self._read, self._keys(p.id), [session_id or ""]) for p in polls]
        )
        return [
            _decode_tally(p, flat, voted) for p, (voted, flat) in zip(polls, results, strict=True)
        ]

    def vote(
        self, poll: Poll, session_id: str, option_id: str, voter: str
    ) -> Awaitable[VoteResult]:
        """Cast `session_id`'s one vote (await its result); `counted` is False if it had voted
        already. `voter` is the keyed hash of the client's address group the ballot is
        filed under."""
        coalescer = self._votes.get(poll)
        if coalescer is None:
            # Per definition: a reloaded poll (other options) gets its own from then on.
            if len(self._votes) > 4 * len(self.polls) + 16:
                self._votes.clear()  # definitions of earlier builds; batches in flight keep theirs
            coalescer = self._votes[poll] = Coalescer(self._vote_batch_for(poll))
        return coalescer((session_id, option_id, voter))

    def _vote_batch_for(
        self, poll: Poll
    ) -> Callable[[list[tuple[str, str, str]]], Awaitable[list[VoteResult]]]:
        history = PollHistoryKeys(self._prefix, poll.id)
        fixed = [*self._keys(poll.id), history.series, history.prefixes]

        async def vote_batch(votes: list[tuple[str, str, str]]) -> list[VoteResult]:
            """One script call for many votes; each answered with the tally right after it."""
            keys = list(fixed)
            args: list[str | int] = [utc_offset(self.catalog.timezone, time.time())]
            voter_index: dict[str, int] = {}
            for session_id, option_id, voter in votes:
                index = voter_index.get(voter)
                if index is None:
                    keys.append(history.cast(voter))
                    index = voter_index[voter] = len(keys)  # Lua's KEYS are 1-based
                args += [session_id, option_id, voter, index]
            before, stamp, flat = await self._vote(keys=keys, args=args)
            tally = _decode_tally(poll, before, None)
            counts, updated_at = tally.votes, tally.updated_at
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


def poll_json(poll: Poll, tally: Tally, lang: str = "vi") -> dict[str, Any]:
    """The public poll shape of the API, its texts in `lang` where the poll has them (`lang`
    in the answer says which texts it holds)."""
    texts = poll.texts(lang)
    return {
        "id": poll.id,
        "lang": texts.lang,
        "question": texts.question,
        "options": [
            {"id": o.id, "label": label, "votes": tally.votes[o.id]}
            for o, label in zip(poll.options, texts.labels, strict=True)
        ],
        "total": tally.total,
        "voted": tally.voted,
        "open": poll.open,
        "opens": poll.opens.isoformat() if poll.opens else None,
        "closes": poll.closes.isoformat() if poll.closes else None,
    }


def poll_json_bytes(poll: Poll, tally: Tally, lang: str = "vi") -> bytes:
    """`poll_json` serialised, by one `%` format of a template made once per poll and
    language (votes answer with it). The template is UTF-8 bytes already: formatting the
    text of a Vietnamese question (not Latin-1) and encoding it cost twice as much."""
    votes = [tally.votes[option.id] for option in poll.options]
    # Option ids are [a-z0-9-]: nothing to escape.
    voted = b"null" if tally.voted is None else b'"%s"' % tally.voted.encode()
    is_open = b"true" if poll.open else b"false"
    template = _poll_template(poll, poll.language_for(lang))
    return template % (*votes, tally.total, voted, is_open)


@functools.cache
def _poll_template(poll: Poll, lang: str) -> bytes:
    def dumps(value: str) -> str:
        return json.dumps(value, ensure_ascii=False).replace("%", "%%")

    texts = poll.texts(lang)
    options = ",".join(
        f'{{"id":{dumps(o.id)},"label":{dumps(label)},"votes":%d}}'
        for o, label in zip(poll.options, texts.labels, strict=True)
    )
    head = (
        f'{{"id":{dumps(poll.id)},"lang":"{texts.lang}",'
        f'"question":{dumps(texts.question)},"options":['
    )
    opens = dumps(poll.opens.isoformat()) if poll.opens else "null"
    closes = dumps(poll.closes.isoformat()) if poll.closes else "null"
    tail = f',"opens":{opens},"closes":{closes}}}'
    return f'{head}{options}],"total":%d,"voted":%s,"open":%s{tail}'.encode()


def admin_tally_json(poll: Poll, tally: Tally, lang: str = "vi") -> dict[str, Any]:
    """The poll shape plus `percent` per option and `updated_at`, for admins."""
    body = poll_json(poll, tally, lang)
    current = {option.id for option in poll.options}
    body["options"] += [
        {"id": option_id, "label": option_id, "votes": votes, "retired": True}
        for option_id, votes in tally.votes.items()
        if option_id not in current
    ]
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
