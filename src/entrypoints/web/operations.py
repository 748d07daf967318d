"""What an operator needs from the web app: request ids in every log line, metrics, rate and
body limits, and the real client address.

- Request ids: a well-formed incoming `X-Request-ID` is kept, anything else is replaced by a
  fresh one; it is bound into every log line written while the request runs, returned in the
  response, and it is the correlation id of a 500 (problems.py reads `current_request_id()`).
- Logs: stdlib logging through structlog's formatter, JSON lines in production and readable
  lines in the embedded default (`log_handler`, installed by `bootstrap.configure_logging`).
- Metrics: Prometheus text at `/metrics` for a bearer token (`PORTAL_METRICS_TOKEN`) or an
  admin; request counts and latency by route template, plus gauges read from the storage and
  the Salesforce adapter at scrape time.
- Client address: the TCP peer, unless it is one of `PORTAL_TRUSTED_PROXIES`; then uvicorn's
  proxy-headers middleware takes the address from `X-Forwarded-For`. Rate limits and sign-in
  throttling see only that address, so a forged header changes nothing.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import sys
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from functools import cache
from http import HTTPStatus
from typing import Any, Protocol, cast

import structlog
from litestar import Request, Response, Router, get
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.plugins import InitPluginProtocol
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from entrypoints.bootstrap import Container, derived_key
from entrypoints.settings import Settings
from entrypoints.web.auth import requires_admin
from portal_core.cases.model import CaseSynced
from portal_core.dispatch import EventDispatcher

log = logging.getLogger(__name__)
access_log = logging.getLogger("portal.access")

REQUEST_ID_HEADER = "X-Request-ID"
_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
"""Ids other systems send (UUIDs, ULIDs, trace ids); anything else could forge log lines."""

METRICS_PATH = "/metrics"
METRICS_PREFIX = "portal"

SKIP_METRICS = "skip_metrics"
"""Route `opt` key: no request count and latency histogram (long-lived event streams)."""
SKIP_RATE_LIMIT = "skip_rate_limit"
"""Route `opt` key: no per-address limit (webhooks verified by signature, probes, metrics)."""
RATE_LIMIT_GROUP = "rate_limit"
SIGN_IN_RATE_LIMIT: dict[str, Any] = {RATE_LIMIT_GROUP: "sign_in"}
"""Route `opt` for sign-in, password-reset and invitation forms: their POSTs get the stricter
limit (`PORTAL_SIGN_IN_RATE_LIMIT_PER_MINUTE`)."""

SIGN_IN_STORE = "rate_limit_sign_in"
GENERAL_STORE = "rate_limit_general"
RATE_LIMIT_STORES = (SIGN_IN_STORE, GENERAL_STORE)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

MAX_MULTIPART_PARTS = 100
"""Portal forms have a handful of fields and one file; more parts are refused with 400."""


# --- request ids and logs ------------------------------------------------------------------------


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


def accepted_request_id(incoming: str | None) -> str:
    """The incoming id when it is well formed, else a fresh one."""
    if incoming and _WELL_FORMED_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware(ASGIMiddleware):
    """Binds the request id into the logging context for the whole request and writes one
    access line when the response has been sent."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        incoming = _header(scope, b"x-request-id")
        request_id = accepted_request_id(incoming)
        status = HTTPStatus.INTERNAL_SERVER_ERROR.value
        started = time.perf_counter()

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = cast("HTTPScope", scope)["method"]  # `scopes` admits HTTP only
        route = scope.get("path_template", scope["path"])
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await next_app(scope, receive, send_recording_status)
            finally:
                access_log.info(
                    "%s %s %s",
                    method,
                    route,
                    status,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )


async def add_request_id_header(message: Message, scope: Scope) -> None:
    """`before_send` hook: every response names its request id, also those that never reached a
    route (404, 405, refused hosts), which get a fresh one."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    request_id = current_request_id() or headers.get("X-Correlation-ID") or uuid.uuid4().hex
    headers[REQUEST_ID_HEADER] = request_id


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def log_handler(settings: Settings) -> logging.Handler:
    """A stderr handler writing JSON lines (production) or readable lines (embedded), each with
    the request id bound by `RequestIdMiddleware` and the `extra` fields of the call."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.dict_tracebacks)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    return handler


# --- client address --------------------------------------------------------------------------


class TrustedProxyMiddleware(ASGIMiddleware):
    """uvicorn's proxy-headers handling inside the app, so that every server and every test
    sees the same client address; the server's own handling is turned off (`portal serve`)."""

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        # uvicorn is imported only when a proxy is trusted: importing the app loads no server.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: PLC0415

        self._proxy_headers = ProxyHeadersMiddleware
        self._trusted = list(trusted_proxies)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        proxied = self._proxy_headers(next_app, trusted_hosts=self._trusted)  # type: ignore[arg-type]
        await proxied(scope, receive, send)  # type: ignore[arg-type]


# --- rate limits -------------------------------------------------------------------------------


class _RateLimitWithRetryAfter(RateLimitMiddleware):
    """Litestar's limiter, with `Retry-After` on its 429 (clients and proxies honour it)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except TooManyRequestsException as refused:
            # Only the limiter's own refusal gets here: errors of the route are answered inside.
            headers = dict(refused.headers or {})
            reset = headers.get(self.config.rate_limit_reset_header_key, "60")
            headers["Retry-After"] = str(max(int(reset), 1))
            raise TooManyRequestsException(
                detail="Too many requests from this address; try again later.", headers=headers
            ) from None


def _route_opt(request: Request[Any, Any, Any]) -> dict[str, Any]:
    handler = request.scope.get("route_handler")
    return handler.opt if handler is not None else {}


async def _is_sign_in(request: Request[Any, Any, Any]) -> bool:
    """An attempt (a POST) on a sign-in page; showing the form counts as any other page."""
    return (
        _route_opt(request).get(RATE_LIMIT_GROUP) == "sign_in"
        and request.method not in SAFE_METHODS
    )


async def _is_general(request: Request[Any, Any, Any]) -> bool:
    return not await _is_sign_in(request)


def rate_limit_configs(settings: Settings) -> list[RateLimitConfig]:
    """Per client address and minute: sign-in forms (`opt=SIGN_IN_RATE_LIMIT`) get
    `sign_in_rate_limit_per_minute`, every other route `rate_limit_per_minute`, routes with
    `opt={SKIP_RATE_LIMIT: True}` none. Each group counts in its own store; a limit of 0 is off.

    The counts are kept in memory, per process (with N worker processes an address gets up to
    N times the limit), or in Redis when `PORTAL_REDIS_URL` is set (`SharedRateLimitStores`).
    The sign-in throttle that matters (per account, per address, per hour)
    is kept in the database by the identity core, so it holds across processes."""
    groups: list[tuple[str, int, Callable[[Request[Any, Any, Any]], Awaitable[bool]]]] = [
        (SIGN_IN_STORE, settings.sign_in_rate_limit_per_minute, _is_sign_in),
        (GENERAL_STORE, settings.rate_limit_per_minute, _is_general),
    ]
    return [
        RateLimitConfig(
            rate_limit=("minute", limit),
            store=store,
            check_throttle_handler=applies,
            exclude_opt_key=SKIP_RATE_LIMIT,
            middleware_class=_RateLimitWithRetryAfter,
        )
        for store, limit, applies in groups
        if limit > 0
    ]


class SharedRateLimitStores(InitPluginProtocol):
    """With `PORTAL_REDIS_URL` set, the rate limits count in Redis, so every process of the
    site shares one count per address; the client is closed when the app shuts down."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.redis_url
        # Sites sharing one Redis never share counts: the prefix derives from the secret key.
        self._namespace = (
            "portal-rate-limit-" + derived_key(settings, purpose="rate limits")[:6].hex()
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if self._url is None:
            return app_config
        # Only sites with Redis load its client.
        from litestar.stores.redis import RedisStore  # noqa: PLC0415
        from redis.asyncio import Redis  # noqa: PLC0415

        client = Redis.from_url(self._url)
        stores = dict(app_config.stores or {}) if isinstance(app_config.stores, dict) else {}
        for store in RATE_LIMIT_STORES:
            stores[store] = RedisStore(client, namespace=f"{self._namespace}-{store}")
        app_config.stores = stores

        async def close_client() -> None:
            await client.aclose()

        app_config.on_shutdown.append(close_client)
        return app_config


# --- metrics -----------------------------------------------------------------------------------


def prometheus_config() -> PrometheusConfig:
    """Request counts, latency and in-flight requests by route template (bounded labels)."""
    return PrometheusConfig(
        app_name="portal",
        prefix=METRICS_PREFIX,
        group_path=True,
        exclude_unhandled_paths=True,
        exclude=[METRICS_PATH],
        exclude_opt_key=SKIP_METRICS,
        scopes={ScopeType.HTTP},
    )


@cache
def _inbound_event_lag() -> Histogram:
    return Histogram(
        f"{METRICS_PREFIX}_inbound_event_lag_seconds",
        "From a change in the source system to the portal having stored it.",
        ["source"],
        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 60, 300, 900, 3600),
    )


def record_inbound_event_lag(source: str, *, changed_at: datetime, stored_at: datetime) -> None:
    """Call once per inbound event stored (e.g. `source="salesforce"`, the record's
    `LastModifiedDate`, the commit time)."""
    lag = max((stored_at - changed_at).total_seconds(), 0.0)
    _inbound_event_lag().labels(source=source).observe(lag)


_observed_dispatchers: weakref.WeakSet[EventDispatcher] = weakref.WeakSet()


def observe_inbound_event_lag(dispatcher: EventDispatcher) -> None:
    """Record the lag of every Salesforce change the portal applies to a case (`CaseSynced`:
    Salesforce's `LastModifiedDate` to the portal's commit). Once per dispatcher."""
    if dispatcher in _observed_dispatchers:
        return
    _observed_dispatchers.add(dispatcher)

    def on_synced(event: CaseSynced) -> None:
        record_inbound_event_lag(
            "salesforce", changed_at=event.external_modified_at, stored_at=event.occurred_at
        )

    dispatcher.subscribe(CaseSynced, on_synced)


class ReportsApiUsage(Protocol):
    """The Salesforce adapter's view of the org's daily API allowance."""

    @property
    def api_usage(self) -> Any: ...


class _StorageCollector(Collector):
    """Gauges read when Prometheus scrapes, so every worker process reports the same truth."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._container.uow(read_only=True) as uow:
            pending = uow.outbox.pending_count()
        yield GaugeMetricFamily(
            f"{METRICS_PREFIX}_outbox_pending",
            "Side effects (e-mails, Salesforce writes) committed but not yet delivered.",
            value=pending,
        )
        salesforce: ReportsApiUsage | None = getattr(self._container, "salesforce", None)
        usage = getattr(salesforce, "api_usage", None) if salesforce is not None else None
        if usage is not None:
            yield GaugeMetricFamily(
                f"{METRICS_PREFIX}_salesforce_api_requests_used",
                "Salesforce API requests used in the last 24 hours, as of its latest answer.",
                value=usage.used,
            )
            yield GaugeMetricFamily(
                f"{METRICS_PREFIX}_salesforce_api_requests_limit",
                "The Salesforce org's daily API request limit.",
                value=usage.limit,
            )


def _process_registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # Several worker processes: each writes its counters to files that are summed here.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def metrics_text(container: Container) -> bytes:
    storage = CollectorRegistry(auto_describe=False)
    storage.register(_StorageCollector(container))
    return generate_latest(_process_registry()) + generate_latest(storage)


def metrics_access(
    settings: Settings,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """The scraper's bearer token (`PORTAL_METRICS_TOKEN`) or a signed-in admin."""
    token = settings.metrics_token

    async def requires_metrics_token_or_admin(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        scheme, _, offered = connection.headers.get("authorization", "").partition(" ")
        if (
            token
            and scheme.lower() == "bearer"
            and hmac.compare_digest(offered.strip().encode(), token.encode())
        ):
            return
        # Any other bearer token is a person's, already resolved by `PrincipalMiddleware`.
        await requires_admin(connection, handler)

    return requires_metrics_token_or_admin


def metrics_router(container: Container) -> Router:
    @get(
        METRICS_PATH,
        sync_to_thread=True,
        include_in_schema=False,
        summary="Prometheus metrics",
    )
    def metrics() -> Response[bytes]:
        return Response(
            metrics_text(container),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )

    return Router(
        path="/",
        route_handlers=[metrics],
        guards=[metrics_access(container.settings)],
        # Public in the sense of the webhooks: not a user's route; the guard checks its token.
        opt={"public": True, SKIP_RATE_LIMIT: True, "exclude_from_csrf": True},
    )


def operations_middleware(settings: Settings) -> list[Any]:
    """The app-level middleware of this module, outermost first."""
    middleware: list[Any] = []
    if settings.trusted_proxies:
        middleware.append(TrustedProxyMiddleware(settings.trusted_proxies))
    middleware.append(RequestIdMiddleware())
    middleware.extend(config.middleware for config in rate_limit_configs(settings))
    middleware.append(prometheus_config().middleware)
    return middleware
