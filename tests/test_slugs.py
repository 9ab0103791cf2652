"""Vietnamese-aware slugs and deterministic collision resolution."""

from __future__ import annotations

import unicodedata

import pytest

from portal.builder.slugs import assign_slugs, is_valid_slug, slugify

# Each base vowel, with the ASCII letter it must become.
VOWELS = {
    "a": "a", "ă": "a", "â": "a", "e": "e", "ê": "e", "i": "i", "o": "o",
    "ô": "o", "ơ": "o", "u": "u", "ư": "u", "y": "y",
}  # fmt: skip
# The five tone marks (ngang has none): huyền, sắc, hỏi, ngã, nặng.
TONES = ["\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]


@pytest.mark.parametrize(("vowel", "ascii_letter"), sorted(VOWELS.items()))
def test_every_tone_mark_on_every_vowel(vowel: str, ascii_letter: str) -> None:
    for tone in ["", *TONES]:
        composed = unicodedata.normalize("NFC", vowel + tone)
        assert slugify(composed) == ascii_letter, composed
        assert slugify(composed.upper()) == ascii_letter, composed.upper()
        # Decomposed input (as some editors save it) gives the same slug.
        assert slugify(unicodedata.normalize("NFD", composed)) == ascii_letter


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Đắk Lắk: Hội nghị tổng kết năm", "dak-lak-hoi-nghi-tong-ket-nam"),
        ("đường Đồng Đăng", "duong-dong-dang"),
        ("ĐẠI HỘI ĐẢNG BỘ", "dai-hoi-dang-bo"),
        (
            "Thông báo lịch nghỉ Tết Nguyên đán Giáp Thìn 2024",
            "thong-bao-lich-nghi-tet-nguyen-dan-giap-thin-2024",
        ),
        ("Quý I/2023: kết quả & nhiệm vụ", "quy-i-2023-ket-qua-nhiem-vu"),
        (
            "Hỏi \u2013 ngã \u2013 nặng: ả ã ạ ẻ ẽ ẹ ỉ ĩ ị ỏ õ ọ ủ ũ ụ ỷ ỹ ỵ",
            "hoi-nga-nang-a-a-a-e-e-e-i-i-i-o-o-o-u-u-u-y-y-y",
        ),
        ("Ưu tiên ươm mầm Ở Ơ Ư", "uu-tien-uom-mam-o-o-u"),
        ("Khánh thành cầu “Bến Mây” (186 m)", "khanh-thanh-cau-ben-may-186-m"),
        ("  --Nhiều   khoảng trắng--  ", "nhieu-khoang-trang"),
        ("Năng suất đạt 6,8 tấn/ha", "nang-suat-dat-6-8-tan-ha"),
    ],
)
def test_titles(title: str, slug: str) -> None:
    assert slugify(title) == slug
    assert is_valid_slug(slug)


def test_long_titles_are_cut_at_a_word() -> None:
    slug = slugify("Hội nghị " * 30)
    assert len(slug) <= 80
    assert not slug.endswith("-")
    assert slug.split("-")[-1] in {"hoi", "nghi"}


def test_empty_title_gives_empty_slug() -> None:
    assert slugify("!!!") == ""


def test_collisions_are_numbered_in_input_order() -> None:
    slugs, conflicts = assign_slugs(
        [("a.md", "thong-bao", False), ("b.md", "thong-bao", False), ("c.md", "thong-bao", False)]
    )
    assert slugs == {"a.md": "thong-bao", "b.md": "thong-bao-2", "c.md": "thong-bao-3"}
    assert conflicts == []


def test_explicit_slugs_win_over_derived_ones() -> None:
    slugs, conflicts = assign_slugs(
        [("old.md", "lich", False), ("new.md", "lich", True), ("x.md", "lich-2", False)]
    )
    assert slugs["new.md"] == "lich"
    assert slugs["old.md"] == "lich-3"  # lich is claimed, lich-2 is taken by x.md's own slug
    assert slugs["x.md"] == "lich-2"
    assert conflicts == []


def test_explicit_slug_conflicts_are_reported() -> None:
    _, conflicts = assign_slugs([("a.md", "trung", True), ("b.md", "trung", True)])
    assert conflicts == [("b.md", "a.md", "trung")]


def test_derived_slug_does_not_steal_a_later_explicit_one() -> None:
    slugs, _ = assign_slugs([("a.md", "x", False), ("b.md", "x", True)])
    assert slugs == {"a.md": "x-2", "b.md": "x"}
