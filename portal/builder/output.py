"""Atomic output: `<out>` is a symlink to a generation directory `<out>.gen/<n>`.

A build makes generation n+1 as a hard-linked copy of generation n (cheap: no bytes are
copied), changes it (every changed file is written to a temporary name and renamed, so the
files shared with generation n are never modified), then points `<out>` at it with one
atomic rename. A web server therefore serves either the old site or the new one, never a
mix. The previous generation is kept one build longer, for readers still walking it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

GEN_SUFFIX = ".gen"


def generations_dir(out_dir: Path) -> Path:
    """`<out>.gen`, beside `<out>`."""
    return out_dir.with_name(out_dir.name + GEN_SUFFIX)


def current_generation(out_dir: Path) -> Path | None:
    """The generation `<out>` points at (None when it is missing or not ours)."""
    if not out_dir.is_symlink():
        return None
    target = out_dir.parent / os.readlink(out_dir)
    return target if target.is_dir() else None


def _number(path: Path) -> int:
    return int(path.name) if path.name.isdigit() else -1


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a tree as hard links (directories are made, files linked)."""
    top = str(src)
    for dirpath, _dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        target = os.path.join(str(dst), rel) if rel != "." else str(dst)
        os.makedirs(target, exist_ok=True)
        for name in filenames:
            if name.startswith(".") and name.endswith(".tmp"):
                continue  # a crashed build's temporary file
            os.link(os.path.join(dirpath, name), os.path.join(target, name))


class Generation:
    """The directory a build writes into, made current by `commit()`."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir.absolute()
        self.gens = generations_dir(self.out_dir)
        self.previous = current_generation(self.out_dir)
        self.legacy = self.out_dir.is_dir() and not self.out_dir.is_symlink()
        self.gens.mkdir(parents=True, exist_ok=True)
        existing = [_number(p) for p in self.gens.iterdir()]
        self.dir = self.gens / str(max(existing, default=0) + 1)
        if self.dir.exists():  # a crashed build's leftovers
            shutil.rmtree(self.dir)
        source = self.previous or (self.out_dir if self.legacy else None)
        if source is not None:
            _link_tree(source, self.dir)
        else:
            self.dir.mkdir()

    def commit(self) -> None:
        """Make this generation the served one, atomically, and drop old generations."""
        link = self.out_dir.with_name(f".{self.out_dir.name}.{os.getpid()}.link")
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(os.path.relpath(self.dir, self.out_dir.parent), link)
        if self.legacy:
            # Once, from the old layout (a plain directory): a rename cannot replace a
            # directory with a symlink, so there is a moment without `<out>` here.
            old = self.out_dir.with_name(f".{self.out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.rename(self.out_dir, old)
            os.replace(link, self.out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(link, self.out_dir)
        self._prune()

    def abandon(self) -> None:
        """A failed build: the served generation is untouched; drop the unfinished one."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def _prune(self) -> None:
        keep = {self.dir.name} | ({self.previous.name} if self.previous else set())
        for path in self.gens.iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
