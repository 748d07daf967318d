"""In-memory e-mail preferences: the fake of `NotificationPreferenceRepository`."""

from __future__ import annotations

import threading

from portal_core.notifications.preferences import NotificationPreferences


class InMemoryNotificationPreferences:
    def __init__(self) -> None:
        self._stored: dict[str, NotificationPreferences] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str) -> NotificationPreferences:
        with self._lock:
            return self._stored.get(user_id) or NotificationPreferences(user_id=user_id)

    def save(self, preferences: NotificationPreferences) -> None:
        with self._lock:
            self._stored[preferences.user_id] = preferences
