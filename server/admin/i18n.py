"""The console's words, in Vietnamese (the default) and English (`?lang=en`, or a browser
that prefers English)."""

from __future__ import annotations

from starlette.requests import Request

from server.language import LANGUAGES, preferred

WORDS: dict[str, dict[str, str]] = {
    "console": {"vi": "Trang quản trị", "en": "Admin console"},
    "overview": {"vi": "Tổng quan", "en": "Overview"},
    "traffic": {"vi": "Truy cập", "en": "Traffic"},
    "audit": {"vi": "Nhật ký quản trị", "en": "Audit log"},
    "polls": {"vi": "Bình chọn", "en": "Polls"},
    "sign_in": {"vi": "Đăng nhập", "en": "Sign in"},
    "sign_out": {"vi": "Đăng xuất", "en": "Sign out"},
    "token": {"vi": "Mã quản trị (PORTAL_ADMIN_TOKEN)", "en": "Admin token (PORTAL_ADMIN_TOKEN)"},
    "wrong_token": {"vi": "Mã quản trị không đúng.", "en": "That is not the admin token."},
    "online_now": {"vi": "Đang online", "en": "Online now"},
    "visitors_today": {"vi": "Khách hôm nay", "en": "Visitors today"},
    "views_today": {"vi": "Lượt xem hôm nay", "en": "Page views today"},
    "votes_today": {"vi": "Phiếu bầu hôm nay", "en": "Votes today"},
    "pages_now": {"vi": "Trang đang được xem", "en": "Pages people are on now"},
    "page": {"vi": "Trang", "en": "Page"},
    "title": {"vi": "Tiêu đề", "en": "Title"},
    "people": {"vi": "Số người", "en": "People"},
    "nobody": {"vi": "Chưa có ai.", "en": "Nobody yet."},
    "live_note": {
        "vi": "Số liệu tự cập nhật (cần JavaScript); tải lại trang để xem mới nhất.",
        "en": "Numbers update live (needs JavaScript); reload the page for the latest.",
    },
    "question": {"vi": "Câu hỏi", "en": "Question"},
    "option": {"vi": "Phương án", "en": "Option"},
    "votes": {"vi": "Số phiếu", "en": "Votes"},
    "percent": {"vi": "Tỷ lệ", "en": "Percent"},
    "total": {"vi": "Tổng", "en": "Total"},
    "retired": {"vi": "(đã bỏ khỏi site.toml)", "en": "(retired from site.toml)"},
    "open": {"vi": "Đang mở", "en": "Open"},
    "state": {"vi": "Trạng thái", "en": "Status"},
    "closed": {"vi": "Đã đóng", "en": "Closed"},
    "opens": {"vi": "Mở từ", "en": "Opens"},
    "closes": {"vi": "Đóng lúc", "en": "Closes"},
    "votes_per_day": {"vi": "Phiếu bầu theo ngày (30 ngày)", "en": "Votes per day (30 days)"},
    "date": {"vi": "Ngày", "en": "Date"},
    "time": {"vi": "Thời điểm", "en": "Time"},
    "abuse": {"vi": "Phiếu theo dải địa chỉ", "en": "Ballots by address group"},
    "abuse_note": {
        "vi": "Mỗi dải địa chỉ chỉ hiện dưới dạng mã băm có khóa, không lưu địa chỉ.",
        "en": "Address groups appear only as keyed hashes; addresses are never stored.",
    },
    "prefix": {"vi": "Mã dải địa chỉ", "en": "Address hash"},
    "ballots": {"vi": "Số phiếu", "en": "Ballots"},
    "first": {"vi": "Phiếu đầu", "en": "First"},
    "last": {"vi": "Phiếu cuối", "en": "Last"},
    "peak": {"vi": "Cao nhất/phút", "en": "Peak per minute"},
    "void": {"vi": "Hủy phiếu…", "en": "Void…"},
    "void_title": {"vi": "Xác nhận hủy phiếu", "en": "Confirm voiding"},
    "void_question": {
        "vi": "Hủy {n} phiếu của dải {prefix} bầu từ {start} đến {end}?",
        "en": "Void {n} ballots of {prefix} cast from {start} to {end}?",
    },
    "void_confirm": {"vi": "Hủy các phiếu này", "en": "Void these ballots"},
    "cancel": {"vi": "Quay lại", "en": "Cancel"},
    "voided": {"vi": "Đã hủy {n} phiếu.", "en": "{n} ballots voided."},
    "from": {"vi": "Từ", "en": "From"},
    "to": {"vi": "Đến", "en": "To"},
    "no_ballots": {"vi": "Chưa có phiếu nào được ghi.", "en": "No ballots recorded yet."},
    "export": {"vi": "Tải về (CSV)", "en": "Export (CSV)"},
    "export_series_day": {"vi": "Phiếu theo ngày", "en": "Votes per day"},
    "export_series_hour": {"vi": "Phiếu theo giờ", "en": "Votes per hour"},
    "export_tally": {"vi": "Kết quả", "en": "Results"},
    "export_abuse": {"vi": "Phiếu theo dải địa chỉ", "en": "Ballots by address"},
    "online_48h": {
        "vi": "Số người online theo phút (48 giờ)",
        "en": "Online per minute (48 hours)",
    },
    "visitors_90d": {
        "vi": "Khách truy cập theo ngày (90 ngày)",
        "en": "Visitors per day (90 days)",
    },
    "views_90d": {"vi": "Lượt xem theo ngày (90 ngày)", "en": "Page views per day (90 days)"},
    "top_pages": {"vi": "Trang xem nhiều nhất (90 ngày)", "en": "Most viewed pages (90 days)"},
    "views": {"vi": "Lượt xem", "en": "Views"},
    "visitors": {"vi": "Khách", "en": "Visitors"},
    "online": {"vi": "Online", "en": "Online"},
    "since": {"vi": "Có số liệu từ {since}.", "en": "Data since {since}."},
    "no_since": {"vi": "Chưa có số liệu.", "en": "No data yet."},
    "numbers": {"vi": "Bảng số liệu", "en": "The numbers"},
    "minutes_with_data": {
        "vi": "Chỉ liệt kê các phút có số liệu.",
        "en": "Only the minutes with data are listed.",
    },
    "action": {"vi": "Thao tác", "en": "Action"},
    "address": {"vi": "Địa chỉ", "en": "Address"},
    "detail": {"vi": "Chi tiết", "en": "Detail"},
    "audit_note": {
        "vi": "Mọi lần đăng nhập, đăng xuất, tải dữ liệu và hủy phiếu; 1.000 mục gần nhất.",
        "en": "Every sign-in, sign-out, export and void; the last 1,000 entries.",
    },
    "action_sign_in": {"vi": "Đăng nhập", "en": "Sign-in"},
    "action_sign_in_failed": {"vi": "Đăng nhập sai mã", "en": "Failed sign-in"},
    "action_sign_out": {"vi": "Đăng xuất", "en": "Sign-out"},
    "action_export": {"vi": "Tải dữ liệu", "en": "Export"},
    "action_void": {"vi": "Hủy phiếu", "en": "Void"},
    "no_polls": {"vi": "Trang chưa có cuộc bình chọn nào.", "en": "The site has no polls."},
    "language": {"vi": "English", "en": "Tiếng Việt"},
    "skip": {"vi": "Bỏ qua đến nội dung", "en": "Skip to content"},
    "chart_of": {"vi": "Biểu đồ: {what}", "en": "Chart: {what}"},
    "max": {"vi": "cao nhất {n}", "en": "highest {n}"},
}


def language(request: Request) -> str:
    """`?lang=` if it is one of the two (the console ignores another), else the browser's
    preference between them (`server.language.preferred`), else Vietnamese."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    return preferred(request.headers.get("accept-language", ""))


class Words:
    """`words.key` or `words("key", n=…)`: the text in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __getattr__(self, key: str) -> str:
        entry = WORDS.get(key)
        if entry is None:
            raise AttributeError(key)
        return entry[self.lang]

    def __call__(self, key: str, **values: object) -> str:
        return WORDS[key][self.lang].format(**values)


def number(value: int | float | None, lang: str) -> str:
    """Grouped digits: 12.345 in Vietnamese, 12,345 in English."""
    if value is None:
        return "\u2013"  # an en dash
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.1f}"
    else:
        text = f"{int(value):,}"
    if lang == "vi":
        return text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text
