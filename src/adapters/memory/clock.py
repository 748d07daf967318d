"""A clock and an id generator for tests: deterministic, and movable by hand."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta


class FixedClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware start time.")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment


class SequentialIds:
    """Ids `prefix-000001`, `prefix-000002`, ...: readable in test failures."""

    def __init__(self, prefix: str = "id") -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            return f"{self._prefix}-{next(self._counter):06d}"
