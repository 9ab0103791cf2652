"""The interface words of the two languages of the site, and English dates.

Vietnamese pages are the site's own; English pages (under /en/) show these words instead.
Templates read them as `ui.<key>`.
"""

from __future__ import annotations

import datetime as dt

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "skip": "Bỏ qua, đến nội dung chính",
        "kicker": "Cổng thông tin điện tử",
        "search_label": "Tìm kiếm trên cổng thông tin",
        "search_placeholder": "Tìm kiếm…",
        "search_button": "Tìm",
        "search_hint": "Từ khóa (có dấu hoặc không dấu)",
        "search_needs_js": "Trang tìm kiếm cần JavaScript. Bạn có thể xem",
        "text_size": "Cỡ chữ",
        "smaller": "Giảm cỡ chữ",
        "default_size": "Cỡ chữ mặc định",
        "larger": "Tăng cỡ chữ",
        "nav": "Chuyên mục",
        "sidebar": "Bình chọn, tin mới nhất và thống kê truy cập",
        "stats": "Thống kê truy cập",
        "poll_box": "Đánh giá của bạn về cổng thông tin điện tử",
        "latest": "Tin mới nhất",
        "links": "Liên kết website",
        "sitemap": "Sơ đồ trang",
        "search": "Tìm kiếm",
        "archive": "Lưu trữ",
        "home": "Trang chủ",
        "breadcrumb": "Vị trí trang",
        "switch_label": "Ngôn ngữ",
        "updated": "Cập nhật ngày",
        "units": "Các đơn vị",
        "head": "Người đứng đầu",
        "address": "Địa chỉ",
        "functions": "Chức năng, nhiệm vụ",
        "full_name": "Họ và tên",
        "position": "Chức vụ",
        "phone": "Điện thoại",
        "fax": "Fax",
        "email": "Thư điện tử",
        "contacts_of": "Danh bạ",
        "show_all": "Xem tất cả đơn vị",
        "page_kind": "Thông tin chung",
        "language_name": "Tiếng Việt",
    },
    "en": {
        "skip": "Skip to main content",
        "kicker": "Electronic information portal",
        "search_label": "Search the portal",
        "search_placeholder": "Search…",
        "search_button": "Search",
        "search_hint": "Keywords (Vietnamese accents optional)",
        "search_needs_js": "The search page needs JavaScript. You can use the",
        "text_size": "Text size",
        "smaller": "Smaller text",
        "default_size": "Default text size",
        "larger": "Larger text",
        "nav": "Sections",
        "sidebar": "Poll and visitor statistics",
        "stats": "Visitor statistics",
        "poll_box": "How do you rate this electronic portal?",
        "latest": "Latest news",
        "links": "Related websites",
        "sitemap": "Sitemap",
        "search": "Search",
        "archive": "Archive",
        "home": "Home",
        "breadcrumb": "You are here",
        "switch_label": "Language",
        "updated": "Updated",
        "units": "Units",
        "head": "Head",
        "address": "Address",
        "functions": "Functions and tasks",
        "full_name": "Full name",
        "position": "Position",
        "phone": "Phone",
        "fax": "Fax",
        "email": "E-mail",
        "contacts_of": "Contacts",
        "show_all": "Show all units",
        "page_kind": "About the district",
        "language_name": "English",
    },
}

LANGUAGES = tuple(WORDS)
#: Where the pages of each language live (Vietnamese is the site's own language).
PREFIX = {"vi": "", "en": "/en"}
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def english_date(value: dt.date) -> str:
    """21 March 2023 (British order, as the Government's English pages write it)."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def month_name(month: int, lang: str) -> str:
    """ "tháng 6" or "June"."""
    return _MONTHS[month - 1] if lang == "en" else f"tháng {month}"
