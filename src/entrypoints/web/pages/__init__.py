"""Server-rendered portal pages (Jinja2 templates; htmx only enhances them).

`portal_pages(container)` is the router the app mounts: every page controller with the error
pages of `rendering.html_error_handlers`. `StartPage` stays importable from here.
"""

from __future__ import annotations

from litestar import Router

from entrypoints.bootstrap import Container
from entrypoints.web.pages.account import AccountPages, SignInPages
from entrypoints.web.pages.admin import AdminPages
from entrypoints.web.pages.client import ClientPages
from entrypoints.web.pages.rendering import html_error_handlers
from entrypoints.web.pages.staff import StaffPages
from entrypoints.web.pages.start import StartPage

__all__ = ["StartPage", "portal_pages"]


def portal_pages(container: Container) -> Router:
    """Sign-in, client, staff and admin pages, answering errors with pages, not JSON."""
    return Router(
        path="/",
        route_handlers=[SignInPages, AccountPages, ClientPages, StaffPages, AdminPages],
        exception_handlers=html_error_handlers(container.settings.firm_name),
        include_in_schema=False,
    )
