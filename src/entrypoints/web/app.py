"""The Litestar app factory: one container in, one app out. No globals, no work at import time.

Tests build the app exactly as production does, from `bootstrap(settings, **fakes)`; the only
difference is which adapters the container holds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

from attrs import evolve
from litestar import Litestar, Router
from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, ScalarRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.problem_details import ProblemDetailsPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from adapters.local.files import LocalDiskFileStore
from entrypoints.bootstrap import Container, bootstrap, configure_logging, derived_key
from entrypoints.demo import load_demo_data
from entrypoints.settings import Settings
from entrypoints.web.api import api_router
from entrypoints.web.auth import PUBLIC, SKIP_PRINCIPAL, PrincipalMiddleware
from entrypoints.web.dependencies import portal_dependencies
from entrypoints.web.files import local_file_routes
from entrypoints.web.health import HealthController
from entrypoints.web.live import live_plugins
from entrypoints.web.operations import (
    MAX_MULTIPART_PARTS,
    SKIP_RATE_LIMIT,
    SharedRateLimitStores,
    add_request_id_header,
    metrics_router,
    observe_inbound_event_lag,
    operations_middleware,
)
from entrypoints.web.pages import StartPage, portal_pages
from entrypoints.web.problems import problem_details_config, unexpected_error_handlers
from entrypoints.web.security import security_headers
from entrypoints.web.webhooks import WebhookController

API_PREFIX = "/api/v1"
API_DOCS_PATH = f"{API_PREFIX}/schema"
HERE = Path(__file__).parent


def create_app(
    container: Container, *, route_handlers: Sequence[ControllerRouterHandler] = ()
) -> Litestar:
    """The portal as an ASGI app; it closes the container when it shuts down.

    `route_handlers` are mounted beside the portal's own, for embedding the portal in a larger
    app; they get the same headers, host checks and error handling."""
    settings = container.settings
    observe_inbound_event_lag(container.dispatcher)
    own_routes: list[ControllerRouterHandler] = [
        StartPage,
        HealthController,
        WebhookController,
        metrics_router(container),
    ]
    own_routes.append(api_router(container, prefix=API_PREFIX))
    own_routes.append(portal_pages(container))
    if isinstance(container.files, LocalDiskFileStore):
        own_routes.append(
            local_file_routes(container.files, max_file_size=container.file_limits.max_file_size)
        )

    return Litestar(
        route_handlers=[
            *own_routes,
            create_static_files_router(
                path="/static",
                directories=[HERE / "static"],
                include_in_schema=False,
                opt={**PUBLIC, SKIP_RATE_LIMIT: True, SKIP_PRINCIPAL: True},
            ),
            *route_handlers,
        ],
        dependencies=portal_dependencies(container, api_docs_path=API_DOCS_PATH),
        middleware=[*operations_middleware(settings), PrincipalMiddleware(container)],
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title=f"{settings.firm_name} client portal",
            version=_portal_version(),
            path=API_DOCS_PATH,
            render_plugins=[ScalarRenderPlugin(), JsonRenderPlugin()],
            # The API's description is public, like any published API reference.
            openapi_router=Router(path=API_DOCS_PATH, route_handlers=[], opt=PUBLIC),
        ),
        plugins=[
            ProblemDetailsPlugin(problem_details_config()),
            *live_plugins(container),
            SharedRateLimitStores(settings),
        ],
        exception_handlers=unexpected_error_handlers(),
        allowed_hosts=AllowedHostsConfig(allowed_hosts=accepted_host_headers(settings)),
        csrf_config=CSRFConfig(
            secret=derived_key(settings, purpose="csrf tokens").hex(),
            # The `__Host-` prefix needs a Secure cookie, so only where the site is https.
            cookie_name="__Host-csrftoken" if settings.is_production else "csrftoken",
            cookie_secure=settings.is_production,
            cookie_samesite="strict",
            header_name="X-CSRF-Token",
        ),
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=1024, exclude_opt_key="skip_compression"
        ),
        before_send=[
            security_headers(
                docs_path=API_DOCS_PATH,
                https_only=settings.is_production,
                upload_origins=_direct_upload_origins(container),
            ),
            add_request_id_header,
        ],
        request_max_body_size=settings.max_request_bytes,
        multipart_form_part_limit=MAX_MULTIPART_PARTS,
        on_shutdown=[container.close],
        logging_config=None,  # the process (CLI, uvicorn) configures logging, not the app
        debug=False,
    )


def _direct_upload_origins(container: Container) -> tuple[str, ...]:
    """A file store that takes uploads straight from the browser (S3) names its origin, so the
    pages' content security policy lets the upload script reach it; the local store is 'self'."""
    origin = getattr(container.files, "upload_origin", None)
    return (origin,) if isinstance(origin, str) else ()


def accepted_host_headers(settings: Settings) -> list[str]:
    """The Host headers to accept: each allowed host bare (behind a proxy, on the default
    port), on the port the portal listens on, and exactly as in the base URL."""
    accepted: dict[str, None] = {}
    for host in settings.allowed_hosts:
        accepted[host] = None
        if host.rpartition(":")[2].isdigit() or host.startswith("*."):
            continue
        accepted[f"{host}:{settings.port}"] = None
    accepted[urlsplit(settings.base_url).netloc] = None
    return list(accepted)


def _portal_version() -> str:
    try:
        return version("client-portal")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0"


def create_served_app(settings: Settings) -> Litestar:
    """The app `portal serve` runs: storage made ready, demo data loaded when asked for."""
    container = bootstrap(settings)
    try:
        container.prepare_storage()
        if settings.demo_data:
            load_demo_data(container)
    except BaseException:
        container.close()
        raise
    # `portal serve` delivers e-mails and drafts invoices itself in the embedded default.
    return create_app(evolve(container, worker_in_process=settings.run_worker_in_process))


def create_app_from_environment() -> Litestar:
    """uvicorn's app factory for `portal serve --reload`: each reload reads the environment."""
    settings = Settings.from_env(os.environ)
    configure_logging(settings)
    return create_served_app(settings)


APP_FACTORY = f"{__name__}:{create_app_from_environment.__name__}"
