"""Poll definitions: the `[[polls]]` of `site.toml`, checked.

Read by the service (the polls it serves) and by the site builder (the ballots it renders),
so both agree on what a valid poll is. Nothing here touches Redis.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


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
