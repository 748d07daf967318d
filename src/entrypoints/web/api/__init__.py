"""The versioned JSON API: one controller per resource under one router.

Every route is signed-in (the router's guard) and, where the core does not decide, staff or
admin only (the route's own guard). Unsafe requests that a bearer token did not authenticate
carry a CSRF token; bodies are JSON, at most `MAX_BODY_SIZE` bytes. See docs/api.md.
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from entrypoints.bootstrap import Container
from entrypoints.web.api.cases import CasesController
from entrypoints.web.api.common import csrf_token_with_cookie, requires_json_body
from entrypoints.web.api.files import FilesController
from entrypoints.web.api.invoices import InvoicesController
from entrypoints.web.api.organisations import OrganisationsController
from entrypoints.web.api.receivables import ReceivablesController
from entrypoints.web.api.time_entries import TimeEntriesController
from entrypoints.web.auth import requires_signed_in

MAX_BODY_SIZE = 1024 * 1024
"""JSON bodies are small; files never pass through the API (they go to the file store)."""


def api_router(container: Container, *, prefix: str) -> Router:
    def provide_api_prefix() -> str:
        return prefix

    return Router(
        path=prefix,
        route_handlers=[
            CasesController,
            FilesController,
            TimeEntriesController,
            InvoicesController,
            ReceivablesController,
            OrganisationsController,
        ],
        guards=[requires_signed_in, csrf_token_with_cookie(container), requires_json_body],
        dependencies={"api_prefix": Provide(provide_api_prefix, sync_to_thread=False)},
        # Litestar's CSRF middleware cannot tell a cookie from a bearer token: the guard checks.
        opt={"exclude_from_csrf": True},
        request_max_body_size=MAX_BODY_SIZE,
    )
