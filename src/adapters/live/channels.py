"""Live updates over Litestar's channels: the Publisher port, the backends, and the channels.

Each update goes to the `staff` channel, and to its organisation's `org:<id>` channel unless it
is staff-only; invoice updates go to `billing:<id>` instead, heard by those who see invoices. `publish` is called from whatever thread committed the change (use cases run in
worker threads), so it hands the update to the event loop that owns the channels with
`call_soon_threadsafe`, and never blocks on a slow subscriber.

One process: the memory backend. Several processes (web servers, workers): PostgreSQL
LISTEN/NOTIFY or Redis pub/sub, so a change committed anywhere reaches every open page.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from portal_core.ports import LiveUpdate

if TYPE_CHECKING:
    from litestar.channels import ChannelsBackend

log = logging.getLogger(__name__)

STAFF_CHANNEL = "staff"
NOTIFY_PAYLOAD_LIMIT = 7_000
"""PostgreSQL's NOTIFY payload must stay under 8000 bytes; an update never needs more."""

Send = Callable[[bytes, list[str]], None]


def organisation_channel(organisation_id: str) -> str:
    return f"org:{organisation_id}"


def billing_channel(organisation_id: str) -> str:
    """The organisation's people who see its invoices (billing contacts, client admins)."""
    return f"billing:{organisation_id}"


def channels_for(update: LiveUpdate) -> list[str]:
    """Where an update goes: staff always; the organisation's billing channel for invoices and
    payments; the organisation's channel otherwise, unless it is for staff only."""
    if update.staff_only:
        return [STAFF_CHANNEL]
    if update.billing_only:
        return [STAFF_CHANNEL, billing_channel(update.organisation_id)]
    return [STAFF_CHANNEL, organisation_channel(update.organisation_id)]


def encode(update: LiveUpdate) -> bytes:
    """The wire form: `{"event": kind, "data": {...}}` as compact JSON."""
    data = dict(update.data)
    payload = json.dumps({"event": update.kind, "data": data}, separators=(",", ":"))
    if len(payload.encode()) > NOTIFY_PAYLOAD_LIMIT and "text" in data:
        data["text"] = data["text"][:200] + "…"
        payload = json.dumps({"event": update.kind, "data": data}, separators=(",", ":"))
    return payload.encode()


def decode(message: bytes) -> tuple[str, dict[str, str]]:
    parsed = json.loads(message)
    return str(parsed["event"]), dict(parsed["data"])


class ChannelsPublisher:
    """The Publisher port. Until something attaches a sender (the web app's channels at start,
    or a worker's backend), updates are dropped: nobody is listening in this process."""

    def __init__(self) -> None:
        self._send: Send | None = None
        self._lock = threading.Lock()

    def attach(self, send: Send) -> None:
        with self._lock:
            self._send = send

    def detach(self) -> None:
        with self._lock:
            self._send = None

    @property
    def attached(self) -> bool:
        return self._send is not None

    def publish(self, update: LiveUpdate) -> None:
        send = self._send
        if send is None:
            log.debug("live update %s dropped: no channels in this process", update.kind)
            return
        send(encode(update), channels_for(update))


def make_backend(kind: str, *, redis_url: str | None, database_url: str) -> ChannelsBackend:
    """The channels backend a `PORTAL_LIVE_BACKEND` value names."""
    if kind == "memory":
        from litestar.channels.backends.memory import MemoryChannelsBackend  # noqa: PLC0415

        return MemoryChannelsBackend()
    if kind == "redis":
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend  # noqa: PLC0415
        from redis.asyncio import Redis  # noqa: PLC0415

        if redis_url is None:
            raise ValueError("The redis backend needs a Redis URL.")

        class ClosingRedisBackend(RedisChannelsPubSubBackend):
            """Closes its connection pool when the app stops (Litestar leaves it open)."""

            async def on_shutdown(self) -> None:
                try:
                    await super().on_shutdown()
                finally:
                    await self._redis.aclose()

        return ClosingRedisBackend(redis=Redis.from_url(redis_url), key_prefix="PORTAL_LIVE")
    if kind == "postgres":
        from litestar.channels.backends.psycopg import PsycoPgChannelsBackend  # noqa: PLC0415

        return PsycoPgChannelsBackend(pg_dsn=libpq_url(database_url))
    raise ValueError(f"Unknown live backend {kind!r}: memory, postgres or redis.")


def libpq_url(database_url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy's form) as libpq takes it: `postgresql://...`."""
    scheme, separator, rest = database_url.partition("://")
    return f"{scheme.split('+', 1)[0]}{separator}{rest}"


@contextmanager
def backend_publishing(publisher: ChannelsPublisher, backend: ChannelsBackend) -> Iterator[None]:
    """For a process without the web app (the worker): run `backend` on an event loop of its
    own in a thread and publish through it, so its commits reach pages served elsewhere."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="live-publisher", daemon=True)
    thread.start()

    def stop_loop() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()

    try:
        asyncio.run_coroutine_threadsafe(backend.on_startup(), loop).result(timeout=30)
    except BaseException:  # the backend is unreachable: say so, leaving no thread behind
        stop_loop()
        raise

    def send(data: bytes, channels: list[str]) -> None:
        future = asyncio.run_coroutine_threadsafe(backend.publish(data, channels), loop)
        future.add_done_callback(_log_failure)

    publisher.attach(send)
    try:
        yield
    finally:
        publisher.detach()
        try:
            asyncio.run_coroutine_threadsafe(backend.on_shutdown(), loop).result(timeout=30)
        finally:
            stop_loop()


def _log_failure(future: concurrent.futures.Future[None]) -> None:
    error = future.exception()
    if error is not None:
        log.warning("a live update could not be published: %s", error)
