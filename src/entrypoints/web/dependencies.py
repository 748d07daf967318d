"""What route handlers may ask for by name, and how each is provided from the container."""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

from entrypoints.bootstrap import Container
from entrypoints.web.auth import provide_principal
from portal_core.organisations.model import Principal

# The container is handed over as is: it is ours, not request data, so it is not validated.
PortalContainer: TypeAlias = NamedDependency[SkipValidation[Container]]
# The signed-in principal on guarded routes (see entrypoints.web.auth).
SignedInPrincipal: TypeAlias = NamedDependency[SkipValidation[Principal]]


def portal_dependencies(container: Container, *, api_docs_path: str) -> dict[str, Provide]:
    def provide_container() -> Container:
        return container

    def provide_api_docs_path() -> str:
        return api_docs_path

    def provide_signed_in_principal(
        request: ASGIConnection[Any, Any, Any, Any], container: PortalContainer
    ) -> Principal:
        # Naming the container puts the two in a chain, which Litestar resolves inline, one
        # after the other; independent dependencies it resolves in a task group per request,
        # which cost more than both of them (measured on the case list).
        return provide_principal(request)

    return {
        "container": Provide(provide_container, sync_to_thread=False),
        "api_docs_path": Provide(provide_api_docs_path, sync_to_thread=False),
        "principal": Provide(provide_signed_in_principal, sync_to_thread=False),
    }
