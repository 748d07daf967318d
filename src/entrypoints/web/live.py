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
import functools
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
from entrypoints.web.operations import SKIP_METRICS
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
    # No CSRF cookie and no latency histogram either: the stream is a GET that lasts minutes,
    # and their wrappers would run for every event sent on it.
    opt={
        "skip_compression": True,
        "skip_rate_limit": True,
        "exclude_from_csrf": True,
        SKIP_METRICS: True,
    },
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


_KEEP_ALIVE = b"keep-alive"
_END = b"end"
"""Sentinels the stream's own timers put into its queue (published updates are JSON objects)."""


async def _stream(
    channels: ChannelsPlugin,
    subscriber: Subscriber | None,
    wanted: Sequence[str],
) -> AsyncIterator[ServerSentEventMessage]:
    # The stream reads the subscriber's own queue, into which its two timers also put their
    # sentinels: no task, second queue or timeout per update, because one update wakes every
    # open page of the organisation at once and those cost more than sending it.
    loop = asyncio.get_running_loop()
    heartbeat: asyncio.TimerHandle | None = None
    end: asyncio.TimerHandle | None = None
    try:
        yield ServerSentEventMessage(comment="live", data=None, retry=RECONNECT_MILLISECONDS)
        if subscriber is None:
            return

        def keep_alive() -> None:
            nonlocal heartbeat
            subscriber.put_nowait(_KEEP_ALIVE)
            heartbeat = loop.call_later(HEARTBEAT_SECONDS, keep_alive)

        heartbeat = loop.call_later(HEARTBEAT_SECONDS, keep_alive)
        end = loop.call_later(STREAM_LIFETIME_SECONDS, subscriber.put_nowait, _END)
        async for data in subscriber.iter_events():
            if data is _END:
                return
            if data is _KEEP_ALIVE:
                yield ServerSentEventMessage(comment="keep-alive", data=None)
            else:
                yield _message(data)
    finally:
        for timer in (heartbeat, end):
            if timer is not None:
                timer.cancel()
        if subscriber is not None:
            await channels.unsubscribe(subscriber, wanted)


@functools.lru_cache(maxsize=64)
def _message(data: bytes) -> ServerSentEventMessage:
    """The event for a published update, made once: every subscriber of the channel receives
    the same update, so a thousand open pages decode and re-encode it once, not a thousand
    times. (ServerSentEventMessage is a plain dataclass that nothing mutates.)"""
    event, payload = decode(data)
    return ServerSentEventMessage(event=event, data=json.dumps(payload))


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
