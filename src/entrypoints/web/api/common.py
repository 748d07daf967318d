"""What every API resource shares: the router's guards, idempotent creates and wire formats.

Authentication is the app's (`entrypoints.web.auth`): a session cookie or a bearer token. The
API router is excluded from Litestar's CSRF middleware, because that middleware cannot tell a
cookie from a bearer token; `requires_csrf_token_with_cookie` does the same double-submit check
(the `X-CSRF-Token` header against the CSRF cookie, both signed with the app's CSRF secret,
using Litestar's own `generate_csrf_hash`) for every unsafe request that a bearer token did not
authenticate. A bearer token is never sent by a browser on its own, so it needs no CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from secrets import compare_digest
from typing import Annotated, Any, TypeAlias

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash
from litestar.params import HeaderParameter, SkipValidation
from litestar.serialization import encode_json
from litestar.status_codes import HTTP_201_CREATED, HTTP_415_UNSUPPORTED_MEDIA_TYPE

from entrypoints.bootstrap import Container
from entrypoints.web.auth import current_principal
from entrypoints.web.dependencies import PortalContainer
from portal_core.billing.money import Money
from portal_core.idempotency import IdempotentRequests, StoredResponse, fingerprint
from portal_core.organisations.model import Principal

JSON = "application/json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
CSRF_FAILED = "CSRF token missing or wrong: send the X-CSRF-Token header with cookie sign-in."


def _bearer_token_sent(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _decoded(token: str, secret: str) -> str | None:
    if len(token) < CSRF_SECRET_LENGTH + 1:
        return None
    value, signature = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    expected = generate_csrf_hash(token=value, secret=secret)
    return value if compare_digest(signature, expected) else None


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]
"""Guards are coroutines: Litestar would run a plain function in a worker thread."""


def csrf_token_with_cookie(container: Container) -> Guard:
    """The guard: unsafe requests not authenticated by a bearer token (which the principal
    middleware honours only when a token verifier is configured) carry a valid CSRF token."""
    bearer_accepted = container.token_verifier is not None

    async def requires_csrf_token_with_cookie(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        if connection.scope.get("method", "GET") in SAFE_METHODS:
            return
        if bearer_accepted and _bearer_token_sent(connection):
            return
        _check_csrf_token(connection)

    return requires_csrf_token_with_cookie


def _check_csrf_token(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    config = connection.app.csrf_config
    if config is None:  # an app without CSRF protection has no token to check
        return
    header = connection.headers.get(config.header_name)
    cookie = connection.cookies.get(config.cookie_name)
    if header is None or cookie is None:
        raise PermissionDeniedException(CSRF_FAILED)
    from_header = _decoded(header, config.secret)
    from_cookie = _decoded(cookie, config.secret)
    if from_header is None or from_cookie is None or not compare_digest(from_header, from_cookie):
        raise PermissionDeniedException(CSRF_FAILED)


async def requires_json_body(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """A body sent to the API is JSON: anything else is 415 before it is read."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    length = connection.headers.get("content-length")
    has_body = (length is not None and length.strip() != "0") or (
        "transfer-encoding" in connection.headers
    )
    if not has_body:
        return
    media_type = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != JSON:
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"Send the request body as {JSON}.",
        )


# --- idempotent creates --------------------------------------------------------------------


class IdempotentCall:
    """One create request and its `Idempotency-Key` (if any): `respond` runs it at most once."""

    def __init__(
        self,
        requests: IdempotentRequests,
        principal: Principal | None,
        *,
        key: str | None,
        route: str,
        request_fingerprint: str,
    ) -> None:
        self._requests = requests
        self._principal = principal
        self._key = key
        self._route = route
        self._fingerprint = request_fingerprint

    def respond(
        self, operation: Callable[[], object], *, status_code: int = HTTP_201_CREATED
    ) -> Response[Any]:
        if self._key is None or self._principal is None:
            return Response(operation(), status_code=status_code)

        def stored() -> StoredResponse:
            return StoredResponse(
                status=status_code, body=encode_json(operation()), content_type=JSON
            )

        response, replayed = self._requests.run(
            self._principal,
            key=self._key,
            route=self._route,
            fingerprint=self._fingerprint,
            operation=stored,
        )
        headers = {REPLAYED_HEADER: "true"} if replayed else {}
        return Response(
            response.body,
            status_code=response.status,
            media_type=response.content_type,
            headers=headers,
        )


Idempotent: TypeAlias = NamedDependency[SkipValidation[IdempotentCall]]
"""The `idempotent` dependency of create routes."""
ApiPrefix: TypeAlias = NamedDependency[str]
"""The `api_prefix` dependency: "/api/v1", for links in responses."""


async def provide_idempotent_call(
    request: Request[Any, Any, Any],
    container: PortalContainer,
    idempotency_key: Annotated[
        str | None,
        HeaderParameter(
            name=IDEMPOTENCY_HEADER,
            required=False,
            min_length=1,
            max_length=255,
            description="Makes the create safe to retry: the same key and body give the "
            "same response (kept 24 hours); the same key with another body is refused (422).",
        ),
    ] = None,
) -> IdempotentCall:
    body = await request.body()
    return IdempotentCall(
        IdempotentRequests(uow=container.uow, clock=container.clock),
        current_principal(request),
        key=idempotency_key,
        route=f"{request.method} {request.url.path}",
        request_fingerprint=fingerprint(request.method, request.url.path, body),
    )


# --- wire formats ----------------------------------------------------------------------------


class MoneyOut(msgspec.Struct, frozen=True):
    """An amount as a decimal string with the currency's minor units ("540.00")."""

    amount: str
    currency: str


def money(value: Money) -> MoneyOut:
    return MoneyOut(amount=str(value), currency=value.currency)
