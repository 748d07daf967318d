"""Who is asking, and the guard every route declares.

`PrincipalMiddleware` resolves the session cookie (local sign-in) or an `Authorization: Bearer`
token (an external identity provider such as Cognito) into a `Principal`, once per request, and
leaves it in `connection.user` (None when nobody is signed in). It never rejects a request by
itself: the route's guard decides.

Every route either declares one of the `requires_*` guards or is marked public with
`opt=PUBLIC` (start page, sign-in, health, webhooks verified by their own signatures, signed file
links, static files). `tests/e2e/test_http_guards.py` fails for any route that does neither.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.bootstrap import Container
from entrypoints.settings import Settings
from portal_core.organisations.model import Principal
from portal_core.ports import AuthenticationFailed

PUBLIC: dict[str, Any] = {"public": True}
"""Route `opt` for routes anyone may call: `@get("/healthz", opt=PUBLIC)`."""

SKIP_PRINCIPAL = "skip_principal"
"""Route `opt` key for routes that never ask who is asking (static files, probes): browsers send
the session cookie with every asset, and resolving it costs a database lookup each time."""

SIGN_IN_REQUIRED = "Please sign in."
NOT_ALLOWED = "Your role does not allow this."


def session_cookie_name(settings: Settings) -> str:
    """`__Host-` binds the cookie to this exact host over https; plain http cannot use it."""
    return "__Host-session" if settings.base_url.startswith("https://") else "portal_session"


def session_cookie(settings: Settings, token: str) -> Cookie:
    """The cookie that carries a session token: HttpOnly, SameSite=Lax, Secure over https.

    No `max_age`: the server ends sessions (idle and absolute limits); the browser forgets the
    cookie when it closes."""
    return Cookie(
        key=session_cookie_name(settings),
        value=token,
        path="/",
        httponly=True,
        secure=settings.base_url.startswith("https://"),
        samesite="lax",
    )


def expired_session_cookie(settings: Settings) -> Cookie:
    cookie = session_cookie(settings, "")
    return Cookie(
        key=cookie.key,
        value="",
        path=cookie.path,
        httponly=True,
        secure=cookie.secure,
        samesite=cookie.samesite,
        max_age=0,
    )


class PrincipalMiddleware(ASGIMiddleware):
    """Puts the signed-in `Principal` (or None) into `scope["user"]` for guards and handlers."""

    exclude_opt_key = SKIP_PRINCIPAL

    def __init__(self, container: Container) -> None:
        self._container = container
        self._cookie = session_cookie_name(container.settings)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        scope["user"] = await self._principal(connection)
        await next_app(scope, receive, send)

    async def _principal(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        verifier = self._container.token_verifier
        try:
            if scheme.lower() == "bearer" and token and verifier is not None:
                return await anyio.to_thread.run_sync(verifier.verify, token.strip())
            session = connection.cookies.get(self._cookie)
            if session:
                sign_in = self._container.sign_in
                recent = sign_in.recently_resolved(session)  # no I/O: no worker thread needed
                if recent is not None:
                    return recent
                return await anyio.to_thread.run_sync(sign_in.resolve, session)
        except AuthenticationFailed:
            return None
        return None


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def provide_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The `principal` dependency of guarded routes."""
    principal = current_principal(request)
    if principal is None:  # only reachable on a route that forgot its guard
        raise NotAuthorizedException(SIGN_IN_REQUIRED)
    return principal


async def requires_signed_in(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    if current_principal(connection) is None:
        raise NotAuthorizedException(SIGN_IN_REQUIRED)


async def requires_staff(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    principal = current_principal(connection)
    if principal is None:
        raise NotAuthorizedException(SIGN_IN_REQUIRED)
    if not principal.is_staff:
        raise PermissionDeniedException(NOT_ALLOWED)


async def requires_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    principal = current_principal(connection)
    if principal is None:
        raise NotAuthorizedException(SIGN_IN_REQUIRED)
    if not principal.is_admin:
        raise PermissionDeniedException(NOT_ALLOWED)


# The guards are coroutines on purpose: Litestar runs a plain function guard in a worker
# thread, and a thread hop per guard per request cost more than the check itself.
GUARDS = (requires_signed_in, requires_staff, requires_admin)
"""The guards that count as protecting a route (the guard test checks for one of them)."""
