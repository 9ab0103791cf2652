"""Print the bytes a page downloads for the widgets: raw, gzip -9 and brotli (quality 11).

Usage: python bench/widget_size.py [--budget BYTES]

Exits non-zero when the gzip -9 total of all widget JS + CSS is over the budget (3,500 bytes).
Brotli needs the `brotli` package; without it the brotli column says so.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

WIDGETS = Path(__file__).resolve().parent.parent / "widgets"
FILES = ("portal.js", "portal.css")
BUDGET = 3500


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def brotli_size(data: bytes) -> int | None:
    try:
        import brotli  # type: ignore[import-not-found]
    except ImportError:
        return None
    return len(brotli.compress(data, quality=11))


def sizes() -> dict[str, tuple[int, int, int | None]]:
    """File name (and "total", compressed as the sum of each file) -> (raw, gzip, brotli)."""
    out: dict[str, tuple[int, int, int | None]] = {}
    for name in FILES:
        data = (WIDGETS / name).read_bytes()
        out[name] = (len(data), gzip_size(data), brotli_size(data))
    br = [v[2] for v in out.values()]
    out["total"] = (
        sum(v[0] for v in out.values()),
        sum(v[1] for v in out.values()),
        None if None in br else sum(b for b in br if b is not None),
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=BUDGET, help="gzip -9 bytes allowed")
    args = parser.parse_args()
    rows = sizes()
    print(f"{'file':<12}{'raw':>8}{'gzip -9':>10}{'brotli':>10}")
    for name, (raw, gz, br) in rows.items():
        print(f"{name:<12}{raw:>8}{gz:>10}{br if br is not None else 'n/a':>10}")
    total_gz = rows["total"][1]
    if rows["total"][2] is None:
        print("brotli: not available (pip install brotli)")
    print(f"budget: {total_gz} / {args.budget} bytes gzip -9 ({total_gz / args.budget:.0%})")
    return 0 if total_gz <= args.budget else 1


if __name__ == "__main__":
    sys.exit(main())
