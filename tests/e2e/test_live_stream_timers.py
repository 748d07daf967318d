"""A live stream's own timers: a keep-alive comment every HEARTBEAT_SECONDS, an end after
STREAM_LIFETIME_SECONDS, and nothing left scheduled once the stream is closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from entrypoints.web import live


class QueueSubscriber:
    """What `_stream` uses of a channels subscriber: a queue it may also put into."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.puts_after_close = 0
        self.closed = False

    def put_nowait(self, item: bytes) -> bool:
        if self.closed:
            self.puts_after_close += 1
        self.queue.put_nowait(item)
        return True

    async def iter_events(self) -> AsyncIterator[bytes]:
        while True:
            yield await self.queue.get()


class Channels:
    async def unsubscribe(self, subscriber: QueueSubscriber, channels: Any) -> None:
        subscriber.closed = True


@pytest.fixture
def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.02)
    monkeypatch.setattr(live, "STREAM_LIFETIME_SECONDS", 0.15)


@pytest.mark.usefixtures("fast_timers")
def test_keep_alives_then_the_end_of_the_stream() -> None:
    async def run() -> list[str | None]:
        stream = live._stream(Channels(), QueueSubscriber(), ["org:x"])  # type: ignore[arg-type]
        return [message.comment async for message in stream]

    comments = asyncio.run(run())

    assert comments[0] == "live"
    assert comments.count("keep-alive") >= 3
    assert set(comments[1:]) == {"keep-alive"}


@pytest.mark.usefixtures("fast_timers")
def test_a_stream_closed_after_a_keep_alive_leaves_no_timer_behind() -> None:
    subscriber = QueueSubscriber()

    async def run() -> None:
        stream = live._stream(Channels(), subscriber, ["org:x"])  # type: ignore[arg-type]
        assert (await anext(stream)).comment == "live"
        assert (await anext(stream)).comment == "keep-alive"
        await stream.aclose()  # the browser went away
        await asyncio.sleep(0.3)  # past the stream's lifetime and several heartbeats

    asyncio.run(run())

    assert subscriber.closed
    assert subscriber.puts_after_close == 0
