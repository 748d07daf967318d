"""An in-memory file store: the bytes in a dict, links that name the key and expiry."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from datetime import timedelta
from urllib.parse import quote

from portal_core.cases.files import content_disposition
from portal_core.errors import NotFound
from portal_core.ports import Clock, StoredObject, UploadTicket

CHUNK_SIZE = 64 * 1024
DEFAULT_MAX_LINK_LIFE = timedelta(minutes=15)


class InMemoryFileStore:
    def __init__(self, clock: Clock, *, max_link_life: timedelta = DEFAULT_MAX_LINK_LIFE) -> None:
        self._clock = clock
        self._max_link_life = max_link_life
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self.tickets: list[UploadTicket] = []

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        """Store bytes as if a browser had uploaded them with a ticket (tests call this)."""
        with self._lock:
            self._objects[key] = (data, content_type)
        stored = self.describe(key)
        assert stored is not None
        return stored

    def write(self, key: str, chunks: Iterable[bytes], content_type: str) -> StoredObject:
        return self.put(key, b"".join(chunks), content_type)

    def upload_ticket(
        self, key: str, *, content_type: str, max_size: int, expires_in: timedelta
    ) -> UploadTicket:
        ticket = UploadTicket(
            url=f"memory://upload/{quote(key)}",
            fields={"key": key, "Content-Type": content_type},
            key=key,
            expires_at=self._clock.now() + min(expires_in, self._max_link_life),
            max_size=max_size,
        )
        self.tickets.append(ticket)
        return ticket

    def describe(self, key: str) -> StoredObject | None:
        found = self._objects.get(key)
        if found is None:
            return None
        data, content_type = found
        return StoredObject(
            key=key,
            size=len(data),
            content_type=content_type,
            checksum=hashlib.sha256(data).hexdigest(),
        )

    def download_link(
        self, key: str, *, display_name: str, content_type: str, expires_in: timedelta
    ) -> str:
        expires = int((self._clock.now() + min(expires_in, self._max_link_life)).timestamp())
        disposition = quote(content_disposition(display_name), safe="")
        return (
            f"memory://download/{quote(key)}?disposition={disposition}"
            f"&type={quote(content_type, safe='')}&expires={expires}"
        )

    def read(self, key: str) -> Iterator[bytes]:
        data = self._require(key)
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start : start + CHUNK_SIZE]

    def read_head(self, key: str, size: int) -> bytes:
        return self._require(key)[:size]

    def move(self, key: str, new_key: str) -> StoredObject:
        with self._lock:
            found = self._objects.pop(key, None)
            if found is None:
                raise NotFound("No such file.")
            self._objects[new_key] = found
        moved = self.describe(new_key)
        assert moved is not None
        return moved

    def usage(self, prefix: str) -> int:
        with self._lock:
            return sum(
                len(data) for key, (data, _) in self._objects.items() if key.startswith(prefix)
            )

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def _require(self, key: str) -> bytes:
        found = self._objects.get(key)
        if found is None:
            raise NotFound("No such file.")
        return found[0]
