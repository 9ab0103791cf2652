"""Responsive images: resized variants of the site's photos, and the markup that shows them.

Every JPEG, PNG and WebP under static/ gets variants 480, 960 and 1,440 px wide (never
wider than the original), each as WebP and in the original format, under
/static/_anh/ (a folder editors can't use: the builder skips static folders starting with
"_"), named by the original's content hash: a variant's name says what its bytes are.
Variants are made once per image content: they live in the build cache by content hash,
with a JSON index of sizes, so a build whose images did not change decodes none, and
writes none that the output already has.
SVG passes through; its width and height come from its attributes or viewBox.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BuildError, Problem

if TYPE_CHECKING:  # imported where used: a no-change build only reads IMAGES_VERSION
    from markupsafe import Markup

#: Widths of the variants, in CSS pixels of a 1x screen; never more than the original's.
WIDTHS = (480, 960, 1440)
#: Bump when variants change (widths, quality, encoder settings): it remakes them all.
IMAGES_VERSION = "1"
VARIANT_DIR = "_anh"
_RASTER = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
_OTHER = {".gif", ".avif", ".bmp"}  # read for their size only
_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
_QUALITY = {"JPEG": 82, "WEBP": 80}
#: Images on pages: as wide as the text column (46rem at most), less the page's padding.
CONTENT_SIZES = "(max-width: 56rem) calc(100vw - 5rem), 46rem"
CARD_SIZES = "(max-width: 36rem) calc(100vw - 5rem), 11rem"


@dataclass(frozen=True, slots=True)
class Variant:
    """One resized copy: its width and height and the output file of each format."""

    width: int
    height: int
    files: tuple[tuple[str, str], ...]  # (format, output file relative to out_dir)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What pages need to show one image of the site."""

    url: str  # the original's site path, e.g. /static/img/a.jpg
    width: int
    height: int
    format: str  # JPEG, PNG, WEBP, SVG or another Pillow format name
    variants: tuple[Variant, ...]  # narrowest first; empty for SVG and other formats

    def srcset(self, fmt: str) -> str:
        """The srcset of one format's variants ('' when there are none)."""
        from urllib.parse import quote

        return ", ".join(
            f"/{quote(rel)} {v.width}w" for v in self.variants for f, rel in v.files if f == fmt
        )

    @property
    def src(self) -> str:
        """What <img src> names: the widest variant in the original format, else the file."""
        from urllib.parse import quote

        if self.variants:
            return "/" + quote(dict(self.variants[-1].files)[self.format])
        return quote(self.url)


@dataclass(slots=True)
class ImageSet:
    """The site's images by site path, the variant files to write, and how many images
    this build decoded and resized (0 when every one came from the cache)."""

    images: dict[str, ImageInfo]
    files: dict[str, Path]  # output file -> its bytes in the cache
    processed: int = 0

    def get(self, url: str) -> ImageInfo | None:
        return self.images.get(url)


def picture_html(
    info: ImageInfo | None,
    src: str,
    alt_html: str,
    *,
    sizes: str = CONTENT_SIZES,
    css_class: str = "",
    lazy: bool = True,
) -> Markup:
    """An <img> (in a <picture> with a WebP source when there are variants) with width and
    height, so the browser reserves its space before it loads. `src` and `alt_html` are
    HTML-escaped already; an image the site doesn't have (another site's) keeps its src."""
    from html import escape

    from markupsafe import Markup

    cls = f' class="{css_class}"' if css_class else ""
    loading = ' loading="lazy"' if lazy else ""
    if info is None:
        return Markup(f'<img{cls} src="{src}" alt="{alt_html}"{loading} decoding="async">')
    size = f'width="{info.width}" height="{info.height}"'
    if not info.variants:
        img = f'<img{cls} src="{escape(info.src)}" alt="{alt_html}" {size}'
        return Markup(f'{img}{loading} decoding="async">')
    own = escape(info.srcset(info.format))
    img = (
        f'<img{cls} src="{escape(info.src)}" srcset="{own}" sizes="{sizes}" alt="{alt_html}" '
        f'{size}{loading} decoding="async">'
    )
    if info.format == "WEBP":
        return Markup(img)
    webp = escape(info.srcset("WEBP"))
    return Markup(
        f'<picture><source type="image/webp" srcset="{webp}" sizes="{sizes}">{img}</picture>'
    )


# The body's images as content.render_markdown writes them (figures and inline images).
_BODY_IMAGE = re.compile(
    r'<img src="([^"]*)" alt="([^"]*)"(?: title="[^"]*")?(?: loading="lazy" decoding="async")?'
    r"(?: /)?>"
)


def rewrite_body_images(html: str, lookup: Callable[[str], ImageInfo | None]) -> str:
    """Give every image of an article's HTML its size, srcset and sizes."""
    if "<img " not in html:
        return html
    from html import unescape
    from urllib.parse import unquote

    def one(m: re.Match[str]) -> str:
        path = unquote(unescape(m.group(1)).split("?", 1)[0].split("#", 1)[0])
        return str(picture_html(lookup(path), m.group(1), m.group(2)))

    return _BODY_IMAGE.sub(one, html)


# -- making variants ----------------------------------------------------------------------

_SVG_ROOT = re.compile(rb"<svg\b[^>]*>", re.S)
_ATTR = re.compile(rb'\s([a-zA-Z:-]+)\s*=\s*("[^"]*"|\'[^\']*\')')
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$")


def svg_size(data: bytes) -> tuple[int, int]:
    """An SVG's width and height from its attributes, else its viewBox, else the 300 x 150
    that browsers give an image without a size."""
    root = _SVG_ROOT.search(data[:65536])
    attrs: dict[str, str] = {}
    if root is not None:
        for name, value in _ATTR.findall(root.group(0)):
            attrs[name.decode().lower()] = value[1:-1].decode(errors="replace")
    width = _LENGTH.match(attrs.get("width", ""))
    height = _LENGTH.match(attrs.get("height", ""))
    if width and height:
        return round(float(width.group(1))), round(float(height.group(1)))
    box = attrs.get("viewbox", "").replace(",", " ").split()
    try:
        w, h = float(box[2]), float(box[3])
    except (IndexError, ValueError):
        return 300, 150
    if width:  # one given: the other follows the viewBox's ratio
        return round(float(width.group(1))), round(float(width.group(1)) * h / w)
    return round(w), round(h)


def _targets(width: int) -> list[int]:
    """Variant widths for an image `width` px wide: never upscaled."""
    return sorted({w for w in WIDTHS if w < width} | {min(width, WIDTHS[-1])})


def _encode(img: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":  # no alpha in JPEG: transparent parts become black, as browsers do
        rgb = img if img.mode in ("RGB", "L") else img.convert("RGB")
        rgb.save(out, "JPEG", quality=_QUALITY["JPEG"], optimize=True, progressive=True)
    elif fmt == "WEBP":
        # method 2: a quarter of method 4's time for files within a few per cent of its size.
        img.save(out, "WEBP", quality=_QUALITY["WEBP"], method=2)
    else:
        img.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _make_variants(cache_dir: str, items: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Worker: decode each (site path, digest, file) and store its variants in the cache;
    returns each one's index entry (or {"error": ...})."""
    from PIL import Image

    results: list[dict[str, Any]] = []
    for url, digest, path in items:
        fmt = _RASTER.get(posixpath.splitext(url)[1].lower())
        try:
            results.append(_variants_of(path, fmt, Path(cache_dir), digest))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            # (Pillow raises SyntaxError for some malformed headers.)
            results.append({"error": f"not a readable image ({exc})"})
    return results


def _variants_of(path: str, fmt: str | None, directory: Path, digest: str) -> dict[str, Any]:
    """One image's index entry, its variants stored as `<digest>-<width>.<ext>`."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        if fmt is None or getattr(opened, "is_animated", False):
            # Size only (animated images and formats without variants).
            size = {"width": opened.width, "height": opened.height}
            return {**size, "format": opened.format or "", "variants": []}
        img = ImageOps.exif_transpose(opened)  # as cameras meant it: portrait stays portrait
        img.load()
    if img.mode not in ("RGB", "RGBA", "L", "LA"):  # CMYK, palette, 16-bit, ...
        img = img.convert("RGBA" if img.has_transparency_data else "RGB")
    variants = []
    current = img
    for width in reversed(_targets(img.width)):
        height = max(1, round(img.height * width / img.width))
        if current.width != width:
            current = current.resize((width, height), Image.Resampling.LANCZOS)
        for out_fmt in sorted({fmt, "WEBP"}):
            _store(directory / f"{digest}-{width}.{_EXT[out_fmt]}", _encode(current, out_fmt))
        variants.append([width, height])
    return {"width": img.width, "height": img.height, "format": fmt, "variants": sorted(variants)}


def _store(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _load_index(path: Path) -> dict[str, Any]:
    """The cache's index, or an empty one when it is missing, unreadable or of another
    version (then every image is made again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != IMAGES_VERSION:
        return {}
    images = data.get("images")
    return images if isinstance(images, dict) else {}


def _valid(entry: Any, digest: str, directory: Path) -> bool:
    """An index entry with every variant file it names still in the cache."""
    if not isinstance(entry, dict) or "width" not in entry or "error" in entry:
        return False
    fmt = entry.get("format", "")
    for width, _ in entry.get("variants", []):
        for out_fmt in {fmt, "WEBP"}:
            if not (directory / f"{digest}-{width}.{_EXT.get(out_fmt, 'x')}").is_file():
                return False
    return True


MapChunks = Callable[..., list[Any]]


def prepare_images(
    static: Mapping[str, str],
    digests: Mapping[str, str],
    cache_dir: Path,
    map_chunks: MapChunks,
) -> ImageSet:
    """Sizes and variants of every image under static/ (`static`: relative path -> file,
    `digests`: relative path -> hash of its bytes). `map_chunks(fn, items)` runs the work,
    in a process pool when there is much of it."""
    directory = cache_dir / "images"
    index_path = directory / "index.json"
    index = _load_index(index_path)
    found: dict[str, dict[str, Any]] = {}
    todo: list[tuple[str, str, str]] = []
    new_svg = False
    for rel, path in static.items():
        ext = posixpath.splitext(rel)[1].lower()
        url = f"/static/{rel}"
        if ext == ".svg":
            digest = "svg-" + digests[rel]
            if digest not in index:
                with open(path, "rb") as f:
                    width, height = svg_size(f.read())
                index[digest] = {"width": width, "height": height, "format": "SVG", "variants": []}
                new_svg = True
            found[url] = {"digest": digest, **index[digest]}
        elif ext in _RASTER or ext in _OTHER:
            digest = hashlib.blake2b(
                f"{IMAGES_VERSION}:{digests[rel]}".encode(), digest_size=16
            ).hexdigest()
            if _valid(index.get(digest), digest, directory):
                found[url] = {"digest": digest, **index[digest]}
            else:
                todo.append((url, digest, path))
    if todo:
        directory.mkdir(parents=True, exist_ok=True)
        made = map_chunks(_make_variants, todo, str(directory))
        problems = []
        for (url, digest, _), entry in zip(todo, made, strict=True):
            if "error" in entry:
                hint = "save it again as JPEG, PNG or WebP, or remove it"
                problems.append(Problem(url.lstrip("/"), None, None, entry["error"], hint))
                continue
            index[digest] = entry
            found[url] = {"digest": digest, **entry}
        if problems:
            raise BuildError(problems)
    if todo or new_svg or not index_path.is_file():
        _save_index(index_path, found)
    return _image_set(found, directory, processed=len(todo))


def _save_index(path: Path, found: Mapping[str, Mapping[str, Any]]) -> None:
    """Keep exactly this build's images (old versions drop out of the index; their files
    stay until the cache is cleared: a build never deletes what another may share)."""
    images = {e["digest"]: {k: v for k, v in e.items() if k != "digest"} for e in found.values()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _store(
            path, json.dumps({"version": IMAGES_VERSION, "images": images}, sort_keys=True).encode()
        )
    except OSError:
        pass  # a read-only cache: the next build makes the variants again


def _image_set(found: Mapping[str, Mapping[str, Any]], directory: Path, processed: int) -> ImageSet:
    images: dict[str, ImageInfo] = {}
    files: dict[str, Path] = {}
    for url in sorted(found):
        e = found[url]
        fmt = e["format"]
        stem = posixpath.splitext(url.removeprefix("/static/"))[0]
        variants = []
        for width, height in e["variants"]:
            outs = []
            for out_fmt in sorted({fmt, "WEBP"}):
                rel = f"static/{VARIANT_DIR}/{stem}-{width}w.{e['digest'][:10]}.{_EXT[out_fmt]}"
                files[rel] = directory / f"{e['digest']}-{width}.{_EXT[out_fmt]}"
                outs.append((out_fmt, rel))
            variants.append(Variant(width, height, tuple(outs)))
        images[url] = ImageInfo(url, e["width"], e["height"], fmt, tuple(variants))
    return ImageSet(images, files, processed)


def write_variants(target: Path, files: Mapping[str, Path]) -> list[str]:
    """Put the variants into the output directory `target`; returns those written. A
    variant already there with its size is left alone unread: its name holds the hash of
    the content it was made from."""
    from .render import write_if_changed

    written = []
    for rel in sorted(files):
        source, path = files[rel], target / rel
        try:
            if path.stat().st_size == source.stat().st_size:
                continue
        except FileNotFoundError:
            pass
        if write_if_changed(path, source.read_bytes()):
            written.append(rel)
    return written
