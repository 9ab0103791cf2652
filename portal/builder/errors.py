"""The one exception the builder raises for bad input."""

from __future__ import annotations


class BuildError(Exception):
    """Bad content or settings: the message names the file and the problem, one per line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[BuildError], tuple[str]]:
        # Crosses process boundaries from the worker pool intact.
        return (BuildError, (self.message,))
