"""Security headers on every response, errors and static files included.

Set in a `before_send` hook rather than per route, because the hook also sees responses that
never reach a route (404s, 405s, host-header refusals) and those written by Litestar itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

HSTS = "max-age=63072000; includeSubDomains"
DOCS_CDN = "https://cdn.jsdelivr.net"


def page_policy(upload_origins: tuple[str, ...] = ()) -> str:
    """The pages' policy. `upload_origins` are file stores that browsers upload to directly
    (S3's presigned POST): the upload script and the no-script form both send there."""
    targets = " ".join(("'self'", *upload_origins))
    return "; ".join(
        (
            "default-src 'self'",
            f"connect-src {targets}",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action {targets}",
            "frame-ancestors 'none'",
        )
    )


PAGE_POLICY = page_policy()
"""The policy of pages when files are uploaded to the portal itself (the local store)."""

# The interactive API reference (Scalar) loads its script, styles and fonts from a CDN and
# puts one <style> element in the page; only the documentation pages get this wider policy.
DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        f"script-src 'self' {DOCS_CDN}",
        f"style-src 'self' 'unsafe-inline' {DOCS_CDN}",
        f"img-src 'self' data: {DOCS_CDN}",
        f"font-src 'self' data: {DOCS_CDN} https://fonts.scalar.com",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SendHook = Callable[[Message, Scope], Awaitable[None]]


def security_headers(
    *, docs_path: str, https_only: bool, upload_origins: tuple[str, ...] = ()
) -> SendHook:
    """A `before_send` hook adding the headers; HSTS only when the site is served over https."""
    docs_prefix = docs_path.rstrip("/")
    pages = page_policy(upload_origins)

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        path = scope.get("path", "")
        on_docs_page = path == docs_prefix or path.startswith(docs_prefix + "/")
        headers["Content-Security-Policy"] = DOCS_POLICY if on_docs_page else pages
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if https_only:
            headers["Strict-Transport-Security"] = HSTS
        content_type = headers.get("Content-Type")
        if content_type is not None:
            headers["Content-Type"] = with_charset(content_type)

    return add_security_headers


def with_charset(content_type: str) -> str:
    """Text without a declared charset lets a browser guess one (UTF-7 tricks); say UTF-8.
    The files sent as text (static CSS and scripts, templates) are all UTF-8."""
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type.startswith("text/") and "charset=" not in content_type.lower():
        return f"{content_type}; charset=utf-8"
    return content_type
