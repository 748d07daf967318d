"""What every page shares: its context, notices after a redirect, form reading, error pages.

Pages are plain HTML forms with POST-redirect-GET; htmx only enhances some of them. Errors on
page routes are pages too: a missing or expired session sends the browser to the sign-in page
(with `next`), a refusal or an unknown id is a 403 or 404 page that says no more than the JSON
API would.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import anyio.to_thread
from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Response, Template
from litestar.types import ExceptionHandlersMap

from entrypoints.bootstrap import Container
from entrypoints.web.auth import current_principal
from entrypoints.web.problems import DOMAIN_STATUS
from portal_core.errors import DomainError
from portal_core.organisations.model import Principal

log = logging.getLogger(__name__)

T = TypeVar("T")

SIGN_IN_PATH = "/sign-in"
PAGE_OPT: dict[str, Any] = {"skip_compression": True}
"""Pages carry CSRF tokens and reflect input; compressing them invites BREACH."""

NOTICES: Mapping[str, str] = {
    "submitted": "Your request was sent.",
    "commented": "Your comment was added.",
    "noted": "Your internal note was added.",
    "status": "The status was changed.",
    "assigned": "The assignment was changed.",
    "files": "Your files were added to the case.",
    "time": "The time was logged.",
    "recomputed": "The draft was recomputed from the latest time and contract.",
    "issued": "The invoice was issued.",
    "credited": "The credit note was issued.",
    "organisation": "The organisation was added.",
    "linked": "The Salesforce account link was saved.",
    "invited": "The invitation was sent.",
    "removed": "The contact was removed.",
    "second-factor": "Your authenticator app is set up; sign-in will ask for its code.",
    "password": "Your password is set. Please sign in.",
    "signed-out": "You are signed out.",
}
"""Messages shown once after a redirect, chosen by a fixed key so no input is ever echoed."""


async def in_thread(call: Callable[[], T]) -> T:
    """Run a (synchronous) use case off the event loop."""
    return await anyio.to_thread.run_sync(call)


async def read_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    return await request.form()


def text_field(form: FormMultiDict, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def is_local_path(target: str) -> bool:
    """Only a path on this site may be a redirect target (never `//evil`, `\\\\evil` or a URL)."""
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil...".
    if any(character <= " " or character == "\x7f" for character in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and "\\" not in target


def page(
    request: Request[Any, Any, Any],
    container: Container,
    template: str,
    *,
    status_code: int = HTTPStatus.OK,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Template:
    """A page with what base.html needs: the firm, who is signed in, and a notice if any."""
    principal = current_principal(request)
    notice_key = request.query_params.get("done", "")
    return Template(
        template,
        status_code=status_code,
        headers=dict(headers or {}),
        context={
            "firm_name": container.settings.firm_name,
            "principal": principal,
            "nav": navigation(principal),
            "current_path": request.url.path,
            "notice": NOTICES.get(notice_key),
            **context,
        },
    )


def navigation(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None:
        return []
    links = [("/dashboard", "Dashboard"), ("/cases", "Cases")]
    if not principal.is_staff:
        links += [("/cases/new", "New request"), ("/invoices", "Invoices")]
    else:
        links += [("/staff/queue", "Queue"), ("/staff/invoices", "Invoice review")]
    if principal.is_admin:
        links.append(("/admin/organisations", "Clients"))
    links.append(("/account/second-factor", "Account"))
    return links


def see_other(path: str, *, done: str | None = None) -> Redirect:
    target = f"{path}?done={done}" if done else path
    return Redirect(target, status_code=303)


def return_path(request: Request[Any, Any, Any]) -> str:
    """Where to come back to after signing in: the page asked for, or for a form sent after the
    session ended, the page the form was on (a form's own address only takes POSTs)."""
    if request.method in {"GET", "HEAD"}:
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.headers.get("host", "") or not is_local_path(referer.path):
        return ""
    return referer.path + (f"?{referer.query}" if referer.query else "")


# --- error pages -----------------------------------------------------------------------------

ERROR_HEADINGS: Mapping[int, str] = {
    HTTPStatus.BAD_REQUEST: "This request could not be understood",
    HTTPStatus.FORBIDDEN: "You cannot do this",
    HTTPStatus.NOT_FOUND: "Page not found",
    HTTPStatus.CONFLICT: "That was not possible just now",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "Too large",
    HTTPStatus.UNPROCESSABLE_ENTITY: "Please check what you entered",
    HTTPStatus.TOO_MANY_REQUESTS: "Too many attempts",
}
CSRF_EXPLANATION = (
    "The form had expired or did not come from this site, so nothing was changed. "
    "Go back, reload the page and try again."
)


def html_error_handlers(firm_name: str) -> ExceptionHandlersMap:
    """Exception handlers for page routes (the JSON API keeps its problem details)."""

    def error_page(
        request: Request[Any, Any, Any], status: int, detail: str, *, headers: Mapping[str, str]
    ) -> Response[Any]:
        principal = current_principal(request)
        return Template(
            "error.html",
            status_code=status,
            headers=dict(headers),
            context={
                "firm_name": firm_name,
                "principal": principal,
                "nav": navigation(principal),
                "current_path": request.url.path,
                "notice": None,
                "status": status,
                "heading": ERROR_HEADINGS.get(status, HTTPStatus(status).phrase),
                "detail": detail,
            },
        )

    def to_sign_in(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
        target = return_path(request)
        if not target:
            return Redirect(SIGN_IN_PATH, status_code=303)
        return Redirect(f"{SIGN_IN_PATH}?next={quote(target, safe='/')}", status_code=303)

    def http_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        assert isinstance(error, HTTPException)
        status = error.status_code
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            return unexpected(request, error)
        detail = error.detail or HTTPStatus(status).description
        if status == HTTPStatus.FORBIDDEN and "CSRF" in detail:
            detail = CSRF_EXPLANATION
        return error_page(request, status, detail, headers=error.headers or {})

    def domain_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        assert isinstance(error, DomainError)
        status: int = HTTPStatus.BAD_REQUEST
        for kind in type(error).__mro__:
            if kind in DOMAIN_STATUS:
                status = DOMAIN_STATUS[kind][0]
                break
        return error_page(request, status, error.message, headers={})

    def unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        correlation_id = uuid.uuid4().hex
        log.error(
            "unexpected error %s (%s %s)",
            correlation_id,
            request.method,
            request.url.path,
            exc_info=error,
        )
        return error_page(
            request,
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Quote this reference if you contact the firm: "
            f"{correlation_id}.",
            headers={"X-Correlation-ID": correlation_id},
        )

    return {
        NotAuthorizedException: to_sign_in,
        HTTPException: http_error,
        DomainError: domain_error,
        Exception: unexpected,
    }
