"""Builders for case tests: a wired CaseService on the in-memory fakes, and sample people."""

from __future__ import annotations

from datetime import UTC, datetime

from attrs import frozen

from adapters.memory import FixedClock, InMemoryFileStore, InMemoryStorage, SequentialIds
from portal_core.cases.service import CaseService
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation, Principal, Role, User

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@frozen
class World:
    storage: InMemoryStorage
    clock: FixedClock
    files: InMemoryFileStore
    dispatcher: EventDispatcher
    service: CaseService
    acme: Organisation
    globex: Organisation
    acme_admin: Principal
    acme_viewer: Principal
    acme_billing: Principal
    globex_admin: Principal
    staff: Principal
    admin: Principal


def user(uid: str, org: str | None, *roles: Role) -> User:
    return User(
        id=uid,
        email=f"{uid}@example.com",
        name=uid.title(),
        organisation_id=org,
        roles=frozenset(roles),
        created_at=START,
    )


def make_world() -> World:
    storage = InMemoryStorage()
    clock = FixedClock(START)
    files = InMemoryFileStore(clock)
    dispatcher = EventDispatcher()
    service = CaseService(
        uow=storage.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        files=files,
        dispatcher=dispatcher,
    )
    acme = Organisation(id="acme", name="Acme Ltd", created_at=START)
    globex = Organisation(id="globex", name="Globex GmbH", created_at=START)
    people = [
        user("ann", "acme", Role.CLIENT_ADMIN),
        user("vic", "acme", Role.CLIENT_VIEWER),
        user("bill", "acme", Role.BILLING_CONTACT),
        user("gus", "globex", Role.CLIENT_ADMIN),
        user("sam", None, Role.STAFF),
        user("ada", None, Role.ADMIN),
    ]
    with storage.unit_of_work() as uow:
        uow.organisations.add(acme)
        uow.organisations.add(globex)
        for person in people:
            uow.users.add(person)
        uow.commit()
    principals = {p.id: p.as_principal() for p in people}
    return World(
        storage=storage,
        clock=clock,
        files=files,
        dispatcher=dispatcher,
        service=service,
        acme=acme,
        globex=globex,
        acme_admin=principals["ann"],
        acme_viewer=principals["vic"],
        acme_billing=principals["bill"],
        globex_admin=principals["gus"],
        staff=principals["sam"],
        admin=principals["ada"],
    )
