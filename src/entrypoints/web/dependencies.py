"""What route handlers may ask for by name, and how each is provided from the container."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

from entrypoints.bootstrap import Container
from entrypoints.web.auth import provide_principal
from entrypoints.web.read_cache import ReadCache
from portal_core.organisations.model import Principal

# The container is handed over as is: it is ours, not request data, so it is not validated.
PortalContainer: TypeAlias = NamedDependency[SkipValidation[Container]]
# The signed-in principal on guarded routes (see entrypoints.web.auth).
SignedInPrincipal: TypeAlias = NamedDependency[SkipValidation[Principal]]
# Answers of read-only routes, kept until the next commit (see entrypoints.web.read_cache).
Reads: TypeAlias = NamedDependency[SkipValidation[ReadCache]]


def portal_dependencies(container: Container, *, api_docs_path: str) -> dict[str, Provide]:
    def provide_container() -> Container:
        return container

    def provide_api_docs_path() -> str:
        return api_docs_path

    database = container.database
    reads = ReadCache(database.commit_counter() if database is not None else None)

    def provide_reads() -> ReadCache:
        return reads

    return {
        "container": Provide(provide_container, sync_to_thread=False),
        "api_docs_path": Provide(provide_api_docs_path, sync_to_thread=False),
        "principal": Provide(provide_principal, sync_to_thread=False),
        "reads": Provide(provide_reads, sync_to_thread=False),
    }
