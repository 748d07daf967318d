"""The start page: what the portal is for, open to everyone."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template

from entrypoints.web.dependencies import PortalContainer


class StartPage(Controller):
    include_in_schema = False
    # Pages will carry CSRF tokens and reflect input; compressing them invites BREACH.
    opt = {"skip_compression": True, "public": True}  # noqa: RUF012 (Litestar reads these class attributes)

    @get("/", sync_to_thread=False, name="start")
    def start(self, container: PortalContainer, api_docs_path: NamedDependency[str]) -> Template:
        return Template(
            "start.html",
            context={
                "firm_name": container.settings.firm_name,
                "api_docs_path": api_docs_path,
            },
        )
