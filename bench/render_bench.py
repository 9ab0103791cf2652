"""In-process CPU cost of rendering pages, per template and stage.

Builds a site once (one worker, into a throwaway directory), keeps the pages it rendered,
then renders a sample of them again and again in this process, timing each stage per page:
the page's context (`make_context`), its attribute objects (`render.page_context`), the
Jinja render and the UTF-8 encoding, in CPU time of this thread. Prints the minimum over
the rounds (on a shared machine, the least disturbed).

    PYTHONPATH=. python bench/render_bench.py SITE_DIR [--rounds 7] [--sample 400]

The templates are those of the checkout `portal` is imported from (its `site/templates`),
not SITE_DIR's copy: the same corpus then measures two checkouts side by side.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import portal
from portal.builder import render
from portal.builder.build import build_site

STAGES = ("context", "attrs", "render", "encode")


def capture(site: Path) -> tuple[render.RenderSetup, list[Any]]:
    """Build `site` once, returning the render setup and the pages it rendered."""
    found: dict[str, Any] = {"pages": []}
    original = render.render_pages

    def spy(setup: render.RenderSetup, pages: list[Any]) -> list[tuple[str, bool]]:
        found["setup"] = setup
        found["pages"].extend(pages)
        return original(setup, pages)

    render.render_pages = spy  # type: ignore[assignment]
    work = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        build_site(site, work / "out", workers=1, cache_dir=work / "cache")
    finally:
        render.render_pages = original  # type: ignore[assignment]
        shutil.rmtree(work, ignore_errors=True)
    return found["setup"], found["pages"]


def sample(pages: list[Any], size: int) -> dict[str, list[Any]]:
    """Up to `size` pages of each template, spread over the site."""
    by_template: dict[str, list[Any]] = defaultdict(list)
    for p in pages:
        by_template[p.template].append(p)
    return {t: ps[:: max(1, len(ps) // size)][:size] for t, ps in by_template.items()}


def one_round(env: Any, pages: list[Any]) -> dict[str, float]:
    """Seconds per page of each stage, over `pages` (each stage over all of them in turn)."""
    # This thread's CPU time: time the machine gave to other processes is not counted.
    clock = time.thread_time
    template = env.get_template(pages[0].template)
    t0 = clock()
    contexts = [p.make_context() for p in pages]
    t1 = clock()
    attrs = [render.page_context(c) for c in contexts]
    t2 = clock()
    html = [template.render(c) for c in attrs]
    t3 = clock()
    for h in html:
        h.encode("utf-8")
    t4 = clock()
    took = (t1 - t0, t2 - t1, t3 - t2, t4 - t3)
    return {s: v / len(pages) for s, v in zip(STAGES, took, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sample", type=int, default=400)
    args = parser.parse_args()
    setup, pages = capture(args.site)
    templates = Path(portal.__file__).resolve().parent.parent / "site" / "templates"
    work = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    setup = replace(setup, templates_dir=str(templates), bytecode_dir=str(work / "bc"))
    render.use_setup(setup)
    env = render._env
    gc.disable()  # as in a build
    groups = sample(pages, args.sample)
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for name, group in groups.items():
            took = one_round(env, group)
            kept = best.setdefault(name, took)
            for s in STAGES:
                kept[s] = min(kept[s], took[s])
    shutil.rmtree(work, ignore_errors=True)
    counts = defaultdict(int)
    for p in pages:
        counts[p.template] += 1
    total = 0.0
    print(f"{'template':<22}{'pages':>6}" + "".join(f"{s:>9}" for s in STAGES) + f"{'sum µs':>9}")
    for name in sorted(best, key=lambda n: -counts[n]):
        b = best[name]
        per = sum(b.values())
        total += per * counts[name]
        cells = "".join(f"{b[s] * 1e6:9.1f}" for s in STAGES)
        print(f"{name:<22}{counts[name]:>6}{cells}{per * 1e6:9.1f}")
    print(f"all {len(pages)} pages: {total:.3f} s of CPU (sum of per-page minimums)")


if __name__ == "__main__":
    main()
