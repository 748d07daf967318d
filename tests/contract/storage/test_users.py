from __future__ import annotations

import pytest

from portal_core.errors import Conflict, NotFound
from portal_core.organisations.model import Role
from portal_core.ports import UnitOfWorkFactory

from .factories import client_user, organisation, staff_user


def _with_organisations(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.organisations.add(organisation("org-1"))
        work.organisations.add(organisation("org-2"))
        work.commit()


def test_a_user_reads_back_with_every_role(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    contact = client_user("u-1", roles=frozenset({Role.CLIENT_ADMIN, Role.BILLING_CONTACT}))
    with uow() as work:
        work.users.add(contact)
        work.commit()
    with uow() as work:
        assert work.users.get("u-1") == contact
        assert work.users.get("u-2") is None


def test_an_email_address_is_found_and_unique_regardless_of_case(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    with uow() as work:
        work.users.add(client_user("u-1", email="Anna.Straße@Client.example"))
        with pytest.raises(Conflict, match="address"):
            work.users.add(client_user("u-2", email="anna.strasse@client.EXAMPLE"))
        work.commit()
    with uow() as work:
        found = work.users.by_email("ANNA.STRASSE@client.example")
        assert found is not None
        assert found.id == "u-1"
        assert work.users.by_email("nobody@client.example") is None


def test_an_update_changes_roles_and_keeps_addresses_unique(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    with uow() as work:
        work.users.add(client_user("u-1"))
        work.users.add(client_user("u-2"))
        work.users.update(client_user("u-1", roles=frozenset({Role.CLIENT_VIEWER}), active=False))
        with pytest.raises(Conflict):
            work.users.update(client_user("u-2", email="u-1@client.example"))
        with pytest.raises(NotFound):
            work.users.update(client_user("u-9"))
        work.commit()
    with uow() as work:
        changed = work.users.get("u-1")
        assert changed is not None
        assert (changed.roles, changed.active) == (frozenset({Role.CLIENT_VIEWER}), False)
        assert work.users.by_email("u-2@client.example") is not None


def test_users_are_listed_per_organisation_and_per_role_by_name(uow: UnitOfWorkFactory) -> None:
    _with_organisations(uow)
    with uow() as work:
        work.users.add(client_user("u-1", name="zoë"))
        work.users.add(client_user("u-2", name="Adam"))
        work.users.add(client_user("u-3", organisation_id="org-2", name="Berta"))
        work.users.add(staff_user("s-1", name="Carla"))
        work.users.add(staff_user("s-2", name="bob", roles=frozenset({Role.ADMIN})))
        work.commit()
    with uow() as work:
        assert [u.id for u in work.users.for_organisation("org-1")] == ["u-2", "u-1"]
        assert [u.id for u in work.users.with_role(Role.STAFF)] == ["s-1"]
        assert [u.id for u in work.users.with_role(Role.CLIENT_ADMIN)] == ["u-2", "u-3", "u-1"]
        assert work.users.with_role(Role.BILLING_CONTACT) == []
