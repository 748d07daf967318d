"""Answers of read-only API routes, reused until anything commits to the database.

A client's open pages ask for the same case list and case again and again (navigation, live
refreshes, several tabs, several contacts of one organisation); between two changes the answer
is the same. `ReadCache` keeps the finished answer per key and drops every entry as soon as the
storage's commit counter moves (`SqlStorage.commit_counter`: SQLite's `data_version`, which
changes when any connection of any process commits). So an answer is never older than the last
commit: there is no expiry to tune and nothing stale to see, only fewer identical queries.

Keys must hold everything the answer depends on. The routes that use it key on the route, the
principal's organisation and roles, and the full query; access rules run when the answer is
made, so a key shared only by principals with the same organisation and roles cannot leak.
Without a commit counter (PostgreSQL, the in-memory fakes) nothing is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

import anyio.to_thread

T = TypeVar("T")

MAX_ENTRIES = 2_048


class ReadCache:
    def __init__(
        self, commit_counter: Callable[[], int] | None, *, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._commit_counter = commit_counter
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._version: int | None = None
        self._lock = threading.Lock()

    async def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        """The answer kept for `key`, or `make()` run in a worker thread (it reads the
        database) and kept, unless something committed while it ran."""
        if self._commit_counter is None:
            return await anyio.to_thread.run_sync(make)
        version = self._commit_counter()
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            elif key in self._entries:
                self._entries.move_to_end(key)
                return cast(T, self._entries[key])
        answer = await anyio.to_thread.run_sync(make)
        with self._lock:
            # Made from a snapshot at least as new as `version`; if the counter has moved
            # since, the entries were or will be dropped, and this one is not kept.
            if version == self._version and self._commit_counter() == version:
                self._entries[key] = answer
                while len(self._entries) > self._max_entries:
                    self._entries.popitem(last=False)
        return answer
