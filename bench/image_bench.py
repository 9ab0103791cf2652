"""Image work of `portal build`: a site with many photos, measured apart from the text.

    python bench/image_bench.py [--photos 200] [--repeat 3] [--quick]

Makes the demo site plus N camera-sized JPEG photos (2,400 x 1,600, each shown by an
article), then builds it in this process:

* cold (no output, no cache): every photo is decoded and resized;
* with no change: the build stops after hashing its inputs;
* after editing one article's body, and after a template edit (every page rendered again):
  no photo may be decoded, the variants come from the cache.

Each warm build runs side by side with the same build of the same articles without photos
(the baseline), and the ratio is printed: with the image cache, photos should cost about
what hashing and copying their files costs. `images processed` counts the images decoded
and resized.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from portal.builder import BuildReport, build_site  # noqa: E402

SITE = REPO / "site"


def make_site(root: Path, photos: int, size: tuple[int, int], *, images: bool = True) -> Path:
    """The demo site, plus `photos` articles, each showing a photo of its own (with
    `images=False`, the same articles without photos: the baseline)."""
    site = root / "site"
    shutil.copytree(SITE, site)
    w, h = size
    base = Image.linear_gradient("L").resize((w, h))
    for i in range(photos):
        picture = f"/static/img/anh/anh-{i:03d}.jpg"
        front = f"image: {picture}\nimage_alt: Ảnh số {i}\n" if images else ""
        body = f"![Ảnh số {i}]({picture})\n" if images else ""
        (site / f"content/tin-tuc/anh-{i:03d}.md").write_text(
            f'---\ntitle: "Ảnh số {i}"\ndate: 2024-03-01T08:{i % 60:02d}:00+07:00\n'
            f"category: tin-tuc\n{front}---\n\nẢnh số {i}.\n\n{body}",
            encoding="utf-8",
        )
        if not images:
            continue
        layers = (base, base.rotate(90).resize((w, h)), Image.new("L", (w, h), i % 256))
        path = site / picture.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.merge("RGB", layers).save(path, "JPEG", quality=90)
    return site


def timed(build: Callable[[], BuildReport]) -> tuple[float, BuildReport]:
    started = time.perf_counter()
    report = build()
    return time.perf_counter() - started, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20 smaller photos, one run")
    args = parser.parse_args()
    photos, repeat, size = args.photos, args.repeat, (2400, 1600)
    if args.quick:
        photos, repeat, size = 20, 1, (1600, 1000)
    with tempfile.TemporaryDirectory(prefix="portal-image-bench-") as tmp:
        root = Path(tmp)
        with_photos = make_site(root / "photos", photos, size)
        baseline = make_site(root / "plain", photos, size, images=False)
        print(f"{photos} photos of {size[0]} x {size[1]} px, best of {repeat}")

        def build(site: Path) -> Callable[[], BuildReport]:
            out, cache = site.parent / "out", site.parent / "cache"
            return lambda: build_site(site, out, cache_dir=cache)

        seconds, report = timed(build(with_photos))
        processed = report.images_processed
        print(f"cold build:               {seconds:7.2f} s, images processed: {processed}")
        timed(build(baseline))
        edits: dict[str, Callable[[Path, int], None]] = {
            "no change": lambda site, n: None,
            "one article edited": lambda site, n: _append(
                site / "content/tin-tuc/chuyen-doi-so-cap-xa.md", n
            ),
            "template edited": lambda site, n: _append(site / "templates/base.html", n),
        }
        for label, edit in edits.items():
            mine, theirs, processed = [], [], 0
            for n in range(repeat):
                edit(with_photos, n)
                edit(baseline, n)
                seconds, report = timed(build(with_photos))
                mine.append(seconds)
                processed += report.images_processed
                theirs.append(timed(build(baseline))[0])
            ratio = min(mine) / min(theirs)
            print(
                f"{label + ':':<25} {min(mine):7.3f} s vs {min(theirs):.3f} s without photos "
                f"({ratio:.2f}x), images processed: {processed}"
            )
            if processed:
                print("  FAIL: a build without image changes decoded images")
                return 1
    return 0


def _append(path: Path, n: int) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n<!-- {n} -->\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
