"""Security headers on every response: a strict CSP and frame protection for HTML pages,
nosniff everywhere (a JSON answer must never be run as a script or rendered as a page)."""

from __future__ import annotations


def content_security_policy(allowed_origins: tuple[str, ...]) -> str:
    """No inline scripts or styles: the pages load their code from files on this origin."""
    connect = " ".join(("'self'", *allowed_origins))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """The headers every response gets, and the ones only HTML pages need."""

    def __init__(self, allowed_origins: tuple[str, ...] = ()) -> None:
        self.every = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]
        self.html = [
            *self.every,
            (b"content-security-policy", content_security_policy(allowed_origins).encode()),
            (b"x-frame-options", b"DENY"),
        ]

    def add_to(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Adds what is missing, never overriding a header a handler set on purpose."""
        present = {key for key, _ in headers}
        is_html = any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers)
        for key, value in self.html if is_html else self.every:
            if key not in present:
                headers.append((key, value))
