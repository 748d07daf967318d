"""Live updates on open pages: `GET /live`, a server-sent event stream per signed-in person.

A client hears their organisation's channel (`org:<id>`), staff the `staff` channel; which
updates go where (internal notes to staff only) is decided in `portal_core.notifications.live`
and `adapters.live`. The stream sends a comment every 15 seconds so that proxies keep it
open, tells the browser to reconnect after 3 seconds, and ends after 5 minutes: EventSource
reconnects by itself, and the new request is signed in afresh, so a removed contact or an ended
session stops receiving updates within minutes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from litestar import Litestar, get
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.config.app import AppConfig
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from litestar.plugins import InitPluginProtocol
from litestar.response import ServerSentEvent, ServerSentEventMessage

from adapters.live import (
    STAFF_CHANNEL,
    billing_channel,
    decode,
    make_backend,
    organisation_channel,
)
from entrypoints.bootstrap import Container
from entrypoints.web.auth import requires_signed_in
from entrypoints.web.dependencies import SignedInPrincipal
from entrypoints.web.notification_page import notification_pages
from portal_core import access
from portal_core.organisations.model import Principal

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
RECONNECT_MILLISECONDS = 3_000
STREAM_LIFETIME_SECONDS = 300.0
BACKLOG = 100
"""Updates held for one slow browser; beyond that the oldest are dropped (the page reloads
its data on the next navigation anyway)."""


def channels_of(principal: Principal) -> list[str]:
    """Staff hear everything; a client their organisation, and its invoices if they may see them."""
    if principal.is_staff:
        return [STAFF_CHANNEL]
    organisation_id = principal.organisation_id
    if organisation_id is None:
        return []
    channels = [organisation_channel(organisation_id)]
    if access.can_see_invoices(principal, organisation_id):
        channels.append(billing_channel(organisation_id))
    return channels


@get(
    "/live",
    guards=[requires_signed_in],
    include_in_schema=False,
    # Compression would hold events back until a buffer fills.
    opt={"skip_compression": True, "skip_rate_limit": True},
)
async def live_updates(
    principal: SignedInPrincipal, channels: NamedDependency[SkipValidation[ChannelsPlugin]]
) -> ServerSentEvent:
    """Case and invoice updates for the signed-in person, as they are committed."""
    wanted = channels_of(principal)
    subscriber = await channels.subscribe(wanted) if wanted else None
    return ServerSentEvent(
        _stream(channels, subscriber, wanted),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(
    channels: ChannelsPlugin,
    subscriber: Subscriber | None,
    wanted: Sequence[str],
) -> AsyncIterator[ServerSentEventMessage]:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_event(data: bytes) -> None:
        received.put_nowait(data)

    loop = asyncio.get_running_loop()
    ends_at = loop.time() + STREAM_LIFETIME_SECONDS
    try:
        yield ServerSentEventMessage(comment="live", data=None, retry=RECONNECT_MILLISECONDS)
        if subscriber is None:
            return
        async with subscriber.run_in_background(on_event, join=False):
            while (remaining := ends_at - loop.time()) > 0:
                try:
                    data = await asyncio.wait_for(
                        received.get(), timeout=min(HEARTBEAT_SECONDS, remaining)
                    )
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keep-alive", data=None)
                    continue
                event, payload = decode(data)
                yield ServerSentEventMessage(event=event, data=json.dumps(payload))
    finally:
        if subscriber is not None:
            await channels.unsubscribe(subscriber, wanted)


class LivePlugin(InitPluginProtocol):
    """Adds the channels, the `/live` route and the e-mail preferences page, and connects the
    container's publisher to the channels once the app runs (and, with `worker_in_process`,
    runs the worker beside it)."""

    def __init__(self, container: Container) -> None:
        self._container = container
        settings = container.settings
        self.channels = ChannelsPlugin(
            backend=make_backend(
                settings.live_backend,
                redis_url=settings.redis_url,
                database_url=settings.database_url,
            ),
            arbitrary_channels_allowed=True,
            subscriber_max_backlog=BACKLOG,
            subscriber_backlog_strategy="dropleft",
        )
        self._stop_worker: Callable[[], None] | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.plugins.append(self.channels)
        app_config.route_handlers.extend([live_updates, notification_pages(self._container)])
        app_config.on_startup.append(self._start)
        # Before the container closes: the worker still needs the database to stop cleanly.
        app_config.on_shutdown.insert(0, self._stop)
        return app_config

    async def _start(self, app: Litestar) -> None:
        loop = asyncio.get_running_loop()
        channels = self.channels

        def send(data: bytes, names: list[str]) -> None:
            loop.call_soon_threadsafe(_publish, channels, data, names)

        self._container.publisher.attach(send)
        if self._container.worker_in_process:
            from entrypoints.worker import start_in_background  # noqa: PLC0415

            self._stop_worker = await asyncio.to_thread(start_in_background, self._container)

    async def _stop(self, app: Litestar) -> None:
        if self._stop_worker is not None:
            await asyncio.to_thread(self._stop_worker)
            self._stop_worker = None
        self._container.publisher.detach()


def _publish(channels: ChannelsPlugin, data: bytes, names: list[str]) -> None:
    try:
        channels.publish(data, names)
    except Exception:  # the app is stopping; the update is for pages that are closing
        log.debug("live update dropped while the channels stop", exc_info=True)


def live_plugins(container: Container) -> list[Any]:
    return [LivePlugin(container)]
