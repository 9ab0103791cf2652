"""The cache key of a content file: a no-change build computes it for files whose stat
changed, so it lives apart from the (heavier) parsing code."""

from __future__ import annotations

import hashlib

# Bump when parse output changes shape or meaning: it invalidates every cached article.
PARSER_VERSION = "8"


def digest_for(source: str, raw: bytes) -> str:
    """The cache key of one content file."""
    h = hashlib.blake2b(digest_size=16)
    h.update(PARSER_VERSION.encode())
    h.update(b"\0")
    h.update(source.encode())
    h.update(b"\0")
    h.update(raw)
    return h.hexdigest()
