"""The start page: what the portal is for, open to everyone."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from entrypoints.web.dependencies import PortalContainer
from entrypoints.web.pages.rendering import page


class StartPage(Controller):
    include_in_schema = False
    # Pages will carry CSRF tokens and reflect input; compressing them invites BREACH.
    opt = {"skip_compression": True, "public": True}  # noqa: RUF012 (Litestar reads these class attributes)

    @get("/", sync_to_thread=False, name="start")
    def start(
        self,
        request: Request[Any, Any, Any],
        container: PortalContainer,
        api_docs_path: NamedDependency[str],
    ) -> Template:
        # Signed in or not, the same page; the header offers sign-in or the person's pages.
        return page(request, container, "start.html", api_docs_path=api_docs_path)
