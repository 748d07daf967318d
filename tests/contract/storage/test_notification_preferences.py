"""E-mail preferences on every backend: everything on until turned off, security kinds never
stored off, a person's choices independent of everyone else's, gone with the person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete

from adapters.memory import InMemoryNotificationPreferences, InMemoryStorage
from adapters.sql import SqlStorage, tables
from adapters.sql.notifications import SqlNotificationPreferences
from portal_core.errors import InvalidInput
from portal_core.notifications import (
    NotificationKind,
    NotificationPreferenceRepository,
    NotificationPreferences,
)
from portal_core.organisations.model import Organisation, Role, User
from tests.contract.storage.conftest import Storage

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def preferences(storage: Storage) -> NotificationPreferenceRepository:
    with storage.unit_of_work() as uow:  # type: ignore[attr-defined]
        uow.organisations.add(Organisation(id="acme", name="Acme Ltd", created_at=AT))
        for user_id in ("ann", "vic"):
            uow.users.add(
                User(
                    id=user_id,
                    email=f"{user_id}@acme.example",
                    name=user_id.title(),
                    organisation_id="acme",
                    roles=frozenset({Role.CLIENT_ADMIN}),
                    created_at=AT,
                )
            )
        uow.commit()
    if isinstance(storage, InMemoryStorage):
        return InMemoryNotificationPreferences()
    assert isinstance(storage, SqlStorage)
    return SqlNotificationPreferences(storage.engine)


def test_a_person_who_never_chose_gets_every_kind(
    preferences: NotificationPreferenceRepository,
) -> None:
    stored = preferences.get("ann")
    assert stored == NotificationPreferences(user_id="ann")
    assert all(stored.wants(kind) for kind in NotificationKind)


def test_choices_are_kept_per_person_and_replaced_whole(
    preferences: NotificationPreferenceRepository,
) -> None:
    off = frozenset({NotificationKind.CASE_REPLY, NotificationKind.INVOICE_ISSUED})
    preferences.save(NotificationPreferences(user_id="ann", turned_off=off))
    assert preferences.get("ann").turned_off == off
    assert preferences.get("vic").turned_off == frozenset()

    preferences.save(
        NotificationPreferences(
            user_id="ann", turned_off=frozenset({NotificationKind.CASE_CREATED})
        )
    )
    assert preferences.get("ann").turned_off == {NotificationKind.CASE_CREATED}


def test_security_mails_cannot_be_stored_as_turned_off() -> None:
    with pytest.raises(InvalidInput):
        NotificationPreferences(
            user_id="ann", turned_off=frozenset({NotificationKind.PASSWORD_RESET})
        )


def test_a_persons_choices_go_with_them(sql_storage: SqlStorage) -> None:
    store = SqlNotificationPreferences(sql_storage.engine)
    with sql_storage.unit_of_work() as uow:
        uow.organisations.add(Organisation(id="acme", name="Acme Ltd", created_at=AT))
        uow.users.add(
            User(
                id="ann",
                email="ann@acme.example",
                name="Ann",
                organisation_id="acme",
                roles=frozenset({Role.CLIENT_VIEWER}),
                created_at=AT,
            )
        )
        uow.commit()
    store.save(
        NotificationPreferences(user_id="ann", turned_off=frozenset({NotificationKind.CASE_REPLY}))
    )
    with sql_storage.engine.begin() as connection:
        connection.execute(delete(tables.user_roles).where(tables.user_roles.c.user_id == "ann"))
        connection.execute(delete(tables.users).where(tables.users.c.id == "ann"))
    assert store.get("ann").turned_off == frozenset()
