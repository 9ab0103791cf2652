"""`watch_site`: rebuild whenever something under the site directory changes."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from .build import build_site
from .errors import BuildError


def _relevant(site_dir: Path, out_dir: Path, changed: str) -> bool:
    path = Path(changed)
    name = path.name
    # Editor swap/backup files and our own output or cache never trigger a rebuild.
    if name.startswith(".") or name.endswith(("~", ".swp", ".tmp")):
        return False
    try:
        path.resolve().relative_to(out_dir.resolve())
        return False
    except ValueError:
        pass
    return ".portal-cache" not in path.parts


def watch_site(site_dir: Path, out_dir: Path, stop: threading.Event) -> None:
    """Block, rebuilding `out_dir` after changes under `site_dir`, until `stop` is set.

    Prints one line per rebuild (or the BuildError message) to stderr; a broken article
    never stops the watcher.
    """
    from watchfiles import watch

    site_dir = Path(site_dir)
    out_dir = Path(out_dir)
    for changes in watch(
        site_dir,
        stop_event=stop,
        watch_filter=lambda _change, path: _relevant(site_dir, out_dir, path),
        debounce=200,
        rust_timeout=500,
        yield_on_timeout=False,
        raise_interrupt=False,
    ):
        if stop.is_set():
            break
        names = sorted({Path(p).name for _, p in changes})
        what = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        try:
            report = build_site(site_dir, out_dir, quiet=True)
        except BuildError as exc:
            print(f"portal: build failed after change to {what}:\n{exc}", file=sys.stderr)
            continue
        except Exception as exc:  # keep serving the last good build
            print(f"portal: build crashed after change to {what}: {exc!r}", file=sys.stderr)
            continue
        print(f"portal: rebuilt after change to {what}: {report.summary()}", file=sys.stderr)
