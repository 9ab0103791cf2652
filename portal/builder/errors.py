"""Build problems: one record per thing to fix, and the one exception carrying them all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing an editor must fix, as the terminal, the browser overlay and the error page
    show it: `file` is relative to the site directory (e.g. content/tin-tuc/a.md)."""

    file: str
    line: int | None
    field: str | None
    message: str
    hint: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The record as plain JSON data."""
        return asdict(self)

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what}" + (f"; {self.hint}" if self.hint else "")


def _sort_key(p: Problem) -> tuple[str, int, str, str]:
    return (p.file, p.line if p.line is not None else -1, p.field or "", p.message)


class BuildError(Exception):
    """Bad content or settings: every problem the build found, one per line in str()."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems), key=_sort_key)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)

    def __reduce__(self) -> tuple[type[BuildError], tuple[list[Problem]]]:
        # Crosses process boundaries from the worker pool intact.
        return (BuildError, (self.problems,))


def did_you_mean(word: str, known: Iterable[str]) -> str | None:
    """A hint naming the closest known word, when one is close."""
    import difflib  # only when there is a problem to report

    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
