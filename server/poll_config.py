"""Poll definitions: the `[[polls]]` of `site.toml`, checked.

Read by the service (the polls it serves) and by the site builder (the ballots it renders),
so both agree on what a valid poll is. Nothing here touches Redis.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class PollConfigError(ValueError):
    """`site.toml` defines polls the service cannot serve; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    label: str
    label_en: str = ""


class PollTexts(NamedTuple):
    """A poll's words in one language: what pages and answers show."""

    lang: str
    question: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Poll:
    id: str
    question: str
    options: tuple[Option, ...]
    enabled: bool = True
    """`open = false` in site.toml closes the poll whatever its schedule."""
    opens: datetime | None = None
    closes: datetime | None = None
    question_en: str = ""
    """The question on English pages and in English answers; with it, every option has a
    `label_en` (all the English texts, or none)."""

    def __hash__(self) -> int:
        # Hashed once, kept beside the fields (not one of them: builds serialise the fields):
        # every vote looks its poll up (its batch, its answer's template).
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(dataclasses.astuple(self))
            object.__setattr__(self, "_hash", cached)
        return cached

    @property
    def has_english(self) -> bool:
        return bool(self.question_en)

    def language_for(self, lang: str) -> str:
        """The language this poll's texts come in when `lang` is asked: English where the
        poll has its English texts, else Vietnamese."""
        return "en" if lang == "en" and self.has_english else "vi"

    def texts(self, lang: str) -> PollTexts:
        """The question and option labels (in option order) in `language_for(lang)`."""
        if self.language_for(lang) == "en":
            return PollTexts("en", self.question_en, tuple(o.label_en for o in self.options))
        return PollTexts("vi", self.question, tuple(o.label for o in self.options))

    def has_option(self, option_id: str) -> bool:
        # The ids as a set, made once and kept beside the fields as the hash is: every
        # vote asks.
        ids: frozenset[str] | None = self.__dict__.get("_option_ids")
        if ids is None:
            ids = frozenset(option.id for option in self.options)
            object.__setattr__(self, "_option_ids", ids)
        return option_id in ids

    def is_open_at(self, now: datetime) -> bool:
        """Open: enabled, and `now` within [opens, closes)."""
        if not self.enabled:
            return False
        if self.opens is not None and now < self.opens:
            return False
        return self.closes is None or now < self.closes

    @property
    def open(self) -> bool:
        """Open now, by the clock: a schedule needs no rebuild or restart."""
        if self.opens is None and self.closes is None:
            return self.enabled  # no schedule: no clock to read
        return self.is_open_at(datetime.now(UTC))

    @property
    def not_yet_open(self) -> bool:
        return self.enabled and self.opens is not None and datetime.now(UTC) < self.opens


def load_polls(site_toml: Path) -> dict[str, Poll]:
    """The `[[polls]]` of a site.toml, checked; a missing file means no polls."""
    if not site_toml.exists():
        return {}
    try:
        data = tomllib.loads(site_toml.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PollConfigError(f"{site_toml}: not valid TOML: {exc}") from None
    return polls_from_tables(data.get("polls", []), str(site_toml))


def polls_from_tables(tables: Sequence[Any], source: str) -> dict[str, Poll]:
    """Polls from the `[[polls]]` tables (as parsed from TOML, or copied into the build's
    manifest), checked; `source` names where they came from in messages."""
    polls: dict[str, Poll] = {}
    for index, entry in enumerate(tables):
        where = f"{source}: polls[{index}]"
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
        opens, closes = _moment(where, entry, "opens"), _moment(where, entry, "closes")
        if opens is not None and closes is not None and closes <= opens:
            raise PollConfigError(f"{where} ({poll_id}): closes must be after opens")
        options = _options(where, entry)
        question_en = _english(f"{where} ({poll_id})", entry, options)
        polls[poll_id] = Poll(
            poll_id, question.strip(), options, is_open, opens, closes, question_en
        )
    return polls


def _english(where: str, entry: dict[str, Any], options: tuple[Option, ...]) -> str:
    """`question_en`, checked with the options' `label_en`: all of them, or none."""
    question = entry.get("question_en")
    if question is None and not any(o.label_en for o in options):
        return ""
    if (
        not isinstance(question, str)
        or not question.strip()
        or not all(o.label_en for o in options)
    ):
        raise PollConfigError(
            f"{where}: English texts incomplete: give question_en and a label_en to every option"
        )
    return question.strip()


def _moment(where: str, entry: dict[str, Any], name: str) -> datetime | None:
    """`opens` / `closes`: ISO 8601 with an offset (TOML's offset date-time, or a string)."""
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise PollConfigError(
            f"{where}: {name} must be a date and time with its offset, "
            "such as 2026-12-01T08:00:00+07:00"
        )
    return value


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
        label_en = option.get("label_en", "")
        if not isinstance(label_en, str):
            raise PollConfigError(f"{where}: option {option_id!r}: label_en must be a string")
        options.append(Option(option_id, label.strip(), label_en.strip()))
    return tuple(options)
