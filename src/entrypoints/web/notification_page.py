"""`/account/notifications`: each person chooses which e-mails they get (security mails always)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Router, get, post
from litestar.response import Redirect, Template

from entrypoints.bootstrap import Container
from entrypoints.web.auth import requires_signed_in
from entrypoints.web.dependencies import PortalContainer, SignedInPrincipal
from entrypoints.web.pages.rendering import (
    PAGE_OPT,
    html_error_handlers,
    in_thread,
    page,
    read_form,
)
from portal_core.notifications import KIND_LABELS, MANDATORY_KINDS, OPTIONAL_KINDS

PATH = "/account/notifications"


class NotificationPreferencesPage(Controller):
    include_in_schema = False
    guards = [requires_signed_in]  # noqa: RUF012
    opt = PAGE_OPT

    @get(PATH)
    async def show(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Template:
        preferences = await in_thread(lambda: container.notification_preferences.get(principal))
        return page(
            request,
            container,
            "notifications.html",
            choices=[
                (kind.value, KIND_LABELS[kind], preferences.wants(kind)) for kind in OPTIONAL_KINDS
            ],
            always=[KIND_LABELS[kind] for kind in sorted(MANDATORY_KINDS)],
            saved=request.query_params.get("saved") == "1",
        )

    @post(PATH)
    async def save(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        principal: SignedInPrincipal,
    ) -> Redirect:
        form = await read_form(request)
        wanted = set(form.getall("wanted", []))
        choices = {kind: kind.value in wanted for kind in OPTIONAL_KINDS}
        await in_thread(lambda: container.notification_preferences.set(principal, choices))
        return Redirect(f"{PATH}?saved=1", status_code=303)


def notification_pages(container: Container) -> Router:
    """The page, with the pages' error handling: signed out goes to the sign-in page."""
    return Router(
        path="/",
        route_handlers=[NotificationPreferencesPage],
        exception_handlers=html_error_handlers(container.settings.firm_name),
        include_in_schema=False,
    )
