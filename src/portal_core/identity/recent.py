"""Sessions resolved moments ago, so that a burst of requests from one open page (the page, its
fragments, its API calls) does not read the same session from the database each time.

An entry is trusted for `reuse_for` (the sign-in policy's `session_recheck_interval`, 2 s by
default) and never past the session's own expiry. Whatever ends or changes a session in this
process (sign-out, revoked sessions, a removed contact, changed roles) forgets the user's
entries at once; another process of the same portal notices within `reuse_for`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from attrs import frozen

from portal_core.organisations.model import Principal

MAX_ENTRIES = 10_000
"""Enough for every signed-in browser of a large firm; the oldest entry goes first."""


@frozen
class _Entry:
    principal: Principal
    valid_until: datetime


class RecentSessions:
    """A small thread-safe map from session-token digest to the principal it resolved to."""

    def __init__(self, reuse_for: timedelta, *, max_entries: int = MAX_ENTRIES) -> None:
        self._reuse_for = reuse_for
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._reuse_for > timedelta(0)

    def get(self, digest: str, now: datetime) -> Principal | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if now >= entry.valid_until:
                del self._entries[digest]
                return None
            return entry.principal

    def remember(
        self, digest: str, principal: Principal, *, now: datetime, session_expires_at: datetime
    ) -> None:
        if not self.enabled:
            return
        valid_until = min(now + self._reuse_for, session_expires_at)
        with self._lock:
            self._entries[digest] = _Entry(principal, valid_until)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def forget_user(self, user_id: str) -> None:
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e.principal.user_id == user_id]:
                del self._entries[digest]
