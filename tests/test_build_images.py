"""Responsive images: variants (sizes, formats, never upscaled), the markup of every <img>
the builder writes, and the cache that keeps a build without image changes from decoding
any image."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from portal.builder import build_site
from portal.builder.errors import BuildError
from portal.builder.images import svg_size

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"
ARTICLE = "bai-viet/anh-moi-cua-song-may.html"


def photo(path: Path, size: tuple[int, int], fmt: str, seed: int = 0) -> None:
    """A photo-like image (gradients, so encoders have something to do)."""
    w, h = size
    img = Image.linear_gradient("L").resize((w, h))
    rgb = Image.merge("RGB", (img, img.rotate(90).resize((w, h)), Image.new("L", (w, h), seed)))
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb.save(path, fmt)


def photo_site(tmp_path: Path, extra_photos: int = 0) -> Path:
    """The demo site plus a JPEG wider than every variant, a small PNG, a WebP, an SVG
    sized by its viewBox only, and an article that shows them all."""
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    img = site / "static/img/anh"
    photo(img / "cho-phien.jpg", (2000, 1125), "JPEG")
    photo(img / "so-do.png", (600, 400), "PNG")
    photo(img / "ban-do.webp", (1000, 500), "WEBP")
    (img / "logo-xa.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40"><rect width="120" '
        'height="40" fill="#8f1a1a"/></svg>\n',
        encoding="utf-8",
    )
    for i in range(extra_photos):
        photo(img / f"thu-vien/anh-{i:03d}.jpg", (640, 360), "JPEG", seed=i % 256)
    (site / "content/tin-tuc/anh-moi.md").write_text(
        "---\n"
        'title: "Ảnh mới của Sông Mây"\n'
        "date: 2024-02-01T08:00:00+07:00\n"
        "category: tin-tuc\n"
        "image: /static/img/anh/cho-phien.jpg\n"
        "image_alt: Chợ phiên đầu xuân\n"
        "tags: [ảnh]\n"
        "---\n\n"
        "Chợ phiên đầu xuân.\n\n"
        '![Sơ đồ chợ](/static/img/anh/so-do.png "Sơ đồ")\n\n'
        "![Bản đồ xã](/static/img/anh/ban-do.webp)\n\n"
        "Biểu trưng ![Biểu trưng xã](/static/img/anh/logo-xa.svg) trong dòng chữ.\n",
        encoding="utf-8",
    )
    return site


class Images(HTMLParser):
    """Every <img> and <source> of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []
        self.sources: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs))
        elif tag == "source":
            self.sources.append(dict(attrs))


def images_of(page: Path) -> Images:
    parser = Images()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def srcset_files(srcset: str) -> list[tuple[str, int]]:
    out = []
    for part in srcset.split(","):
        url, width = part.split()
        out.append((url, int(width.removesuffix("w"))))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    site = photo_site(root)
    report = build_site(site, root / "out", cache_dir=root / "cache")
    assert report.images_processed == 3  # JPEG, PNG, WebP; the SVGs are only measured
    return root / "out"


def test_variants_are_resized_never_upscaled(built: Path) -> None:
    variants = built / "static/_anh/img/anh"
    expected = {
        "cho-phien": ([480, 960, 1440], ["jpg", "webp"], 1125 / 2000),
        "so-do": ([480, 600], ["png", "webp"], 400 / 600),  # 600 px wide: no 960, 1440
        "ban-do": ([480, 960, 1000], ["webp"], 0.5),
    }
    for stem, (widths, exts, ratio) in expected.items():
        found = {re.sub(r"\.[0-9a-f]{10}\.", ".", p.name): p for p in variants.glob(f"{stem}-*")}
        assert sorted(found) == sorted(f"{stem}-{w}w.{e}" for w in widths for e in exts)
        for w in widths:
            for ext in exts:
                with Image.open(found[f"{stem}-{w}w.{ext}"]) as img:
                    assert img.format == {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[ext]
                    assert img.size == (w, round(w * ratio))
    # The originals are still there, as uploaded.
    assert (built / "static/img/anh/cho-phien.jpg").is_file()


def test_every_img_has_a_size_and_raster_ones_a_srcset(built: Path) -> None:
    pages = sorted(built.rglob("*.html"))
    assert len(pages) > 50
    for page in pages:
        found = images_of(page)
        for img in found.imgs:
            assert img.get("width") and img.get("height"), (page, img)
            assert img.get("alt") is not None, (page, img)
            src = img["src"] or ""
            if not src.endswith(".svg"):
                assert img.get("srcset") and img.get("sizes"), (page, img)
                for url, _ in srcset_files(img["srcset"] or ""):
                    assert (built / url.lstrip("/")).is_file(), url
        for source in found.sources:
            assert source["type"] == "image/webp"
            for url, _ in srcset_files(source["srcset"] or ""):
                assert url.endswith(".webp") and (built / url.lstrip("/")).is_file()


def test_article_images_markup(built: Path) -> None:
    found = images_of(built / ARTICLE)
    by_alt = {img["alt"]: img for img in found.imgs}
    lead = by_alt["Chợ phiên đầu xuân"]
    assert (lead["width"], lead["height"]) == ("2000", "1125")
    assert re.fullmatch(
        r"/static/_anh/img/anh/cho-phien-1440w\.[0-9a-f]{10}\.jpg", lead["src"] or ""
    )
    assert "loading" not in lead  # the first thing a reader sees is not lazy
    assert [w for _, w in srcset_files(lead["srcset"] or "")] == [480, 960, 1440]
    png = by_alt["Sơ đồ chợ"]
    assert (png["width"], png["height"], png["loading"]) == ("600", "400", "lazy")
    webp = by_alt["Bản đồ xã"]
    assert re.fullmatch(r"/static/_anh/img/anh/ban-do-1000w\.[0-9a-f]{10}\.webp", webp["src"] or "")
    svg = by_alt["Biểu trưng xã"]
    assert (svg["src"], svg["width"], svg["height"]) == ("/static/img/anh/logo-xa.svg", "120", "40")
    assert "srcset" not in svg
    # WebP sources for the JPEG and PNG (the WebP needs none).
    assert len(found.sources) == 2
    # A list shows the thumbnail with its size too.
    home = images_of(built / "index.html")
    card = next(i for i in home.imgs if "cho-phien" in (i["src"] or ""))
    assert card["class"] == "card__image" and card["width"] == "2000"


def test_svg_sizes() -> None:
    assert svg_size(b'<svg width="72" height="72" viewBox="0 0 10 10">') == (72, 72)
    assert svg_size(b'<svg viewBox="0 0 800 450">') == (800, 450)
    assert svg_size(b'<svg width="400px" viewBox="0,0,800,450">') == (400, 225)
    assert svg_size(b'<svg width="100%" height="50%">') == (300, 150)
    assert svg_size(b"not an svg") == (300, 150)


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_image_work_is_cached_by_content(tmp_path: Path) -> None:
    site = photo_site(tmp_path)
    cache = tmp_path / "cache"
    first = build_site(site, tmp_path / "out", cache_dir=cache)
    assert first.images_processed == 3
    index = json.loads((cache / "images/index.json").read_text(encoding="utf-8"))
    formats = sorted(entry["format"] for entry in index["images"].values())
    assert formats.count("SVG") >= 3 and [f for f in formats if f != "SVG"] == [
        "JPEG",
        "PNG",
        "WEBP",
    ]

    # An edit elsewhere: pages are rebuilt, no image is decoded.
    article = site / "content/tin-tuc/anh-moi.md"
    article.write_text(article.read_text(encoding="utf-8") + "\nThêm một dòng.\n", "utf-8")
    assert build_site(site, tmp_path / "out", cache_dir=cache).images_processed == 0

    # A new output directory: the variants come from the cache, byte for byte.
    again = build_site(site, tmp_path / "out2", cache_dir=cache)
    assert again.images_processed == 0
    assert _digests(tmp_path / "out2") == _digests(tmp_path / "out")

    # A variant deleted from the output comes back (from the cache, not decoded again).
    variant = next((tmp_path / "out/static/_anh/img/anh").glob("so-do-480w.*.webp"))
    variant.unlink()
    assert build_site(site, tmp_path / "out", cache_dir=cache).images_processed == 0
    assert variant.is_file()

    # One photo changes: only it is made again.
    photo(site / "static/img/anh/so-do.png", (600, 400), "PNG", seed=99)
    assert build_site(site, tmp_path / "out", cache_dir=cache).images_processed == 1

    # A cache index that is not ours (or broken) is ignored: everything is made again.
    (cache / "images/index.json").write_text("{not json", encoding="utf-8")
    assert build_site(site, tmp_path / "out3", cache_dir=cache).images_processed == 3


def test_output_is_byte_identical_across_cold_builds(tmp_path: Path) -> None:
    site = photo_site(tmp_path)
    build_site(site, tmp_path / "a", cache_dir=tmp_path / "cache-a")
    build_site(site, tmp_path / "b", cache_dir=tmp_path / "cache-b")
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


def test_no_change_build_with_200_photos_does_no_image_work(tmp_path: Path) -> None:
    site = photo_site(tmp_path, extra_photos=200)
    cache = tmp_path / "cache"
    first = build_site(site, tmp_path / "out", cache_dir=cache)
    assert first.images_processed == 203
    assert len(list((tmp_path / "out/static/_anh/img/anh/thu-vien").iterdir())) == 200 * 2 * 2
    # Nothing changed: nothing is decoded (the build stops after hashing its inputs).
    # (Variant names carry the original's content hash, so later builds need not read them.)
    unchanged = build_site(site, tmp_path / "out", cache_dir=cache)
    assert unchanged.up_to_date and unchanged.images_processed == 0
    # A template edit re-renders every page: still no image work.
    base = site / "templates/base.html"
    base.write_text(base.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    rebuilt = build_site(site, tmp_path / "out", cache_dir=cache)
    assert not rebuilt.up_to_date and rebuilt.images_processed == 0


def test_unreadable_image_is_a_build_problem(tmp_path: Path) -> None:
    site = photo_site(tmp_path)
    (site / "static/img/anh/hong.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(
        BuildError, match=re.escape("static/img/anh/hong.jpg: not a readable image")
    ):
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_unusual_modes_and_orientation(tmp_path: Path) -> None:
    """CMYK JPEG, palette and 16-bit PNG, and a camera's portrait photo stored sideways."""
    site = photo_site(tmp_path)
    img = site / "static/img/anh"
    Image.new("CMYK", (800, 600), (0, 128, 128, 0)).save(img / "in-an.jpg", "JPEG")
    Image.new("P", (700, 500), 3).save(img / "bang-mau.png", "PNG")
    Image.new("I;16", (900, 300), 1000).save(img / "sau-bit.png", "PNG")
    sideways = Image.new("RGB", (1200, 800), (200, 30, 30))
    exif = sideways.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to show"
    sideways.save(img / "doc.jpg", "JPEG", exif=exif)
    report = build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert report.images_processed == 7
    variants = tmp_path / "out/static/_anh/img/anh"
    with Image.open(next(variants.glob("doc-480w.*.jpg"))) as portrait:
        assert portrait.size == (480, 720)  # upright, as the camera meant it
    for name in ("in-an-480w.*.webp", "bang-mau-480w.*.png", "sau-bit-480w.*.webp"):
        with Image.open(next(variants.glob(name))) as variant:
            assert variant.width == 480
