"""People's e-mail preferences in SQL: the kinds each person turned off, one row per kind."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from adapters.sql import tables
from portal_core.notifications.preferences import NotificationKind, NotificationPreferences


class SqlNotificationPreferences:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, user_id: str) -> NotificationPreferences:
        table = tables.notification_preferences
        with self._engine.connect() as connection:
            rows = connection.execute(select(table.c.kind).where(table.c.user_id == user_id))
            known = {kind.value for kind in NotificationKind}
            # A kind a newer version stored and this one does not know is ignored, not an error.
            turned_off = {NotificationKind(row.kind) for row in rows if row.kind in known}
        return NotificationPreferences(user_id=user_id, turned_off=frozenset(turned_off))

    def save(self, preferences: NotificationPreferences) -> None:
        table = tables.notification_preferences
        with self._engine.begin() as connection:
            connection.execute(delete(table).where(table.c.user_id == preferences.user_id))
            if preferences.turned_off:
                connection.execute(
                    insert(table),
                    [
                        {"user_id": preferences.user_id, "kind": kind.value}
                        for kind in sorted(preferences.turned_off)
                    ],
                )
