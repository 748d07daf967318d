"""An in-memory file store: the bytes in a dict, links that name the key and expiry."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

from portal_core.ports import Clock, StoredObject, UploadTicket

CHUNK_SIZE = 64 * 1024


class InMemoryFileStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._objects: dict[str, tuple[bytes, str]] = {}
        self.tickets: list[UploadTicket] = []

    def put(self, key: str, data: bytes, content_type: str) -> StoredObject:
        """Store bytes as if a browser had uploaded them with a ticket (tests call this)."""
        self._objects[key] = (data, content_type)
        stored = self.describe(key)
        assert stored is not None
        return stored

    def upload_ticket(
        self, key: str, *, content_type: str, max_size: int, expires_in: timedelta
    ) -> UploadTicket:
        ticket = UploadTicket(
            url=f"memory://upload/{quote(key)}",
            fields={"key": key, "Content-Type": content_type},
            key=key,
            expires_at=self._clock.now() + expires_in,
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
        expires = int((self._clock.now() + expires_in).timestamp())
        return f"memory://download/{quote(key)}?name={quote(display_name)}&expires={expires}"

    def read(self, key: str) -> Iterator[bytes]:
        data, _ = self._objects[key]
        for start in range(0, len(data), CHUNK_SIZE):
            yield data[start : start + CHUNK_SIZE]

    def delete(self, key: str) -> None:
        self._objects.pop(key, None)
