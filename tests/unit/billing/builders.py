"""Builders for billing tests: contracts and time entries with sensible defaults, and a wired
BillingService on the in-memory fakes with two client organisations and their people."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from attrs import frozen

from adapters.memory import FixedClock, InMemoryFileStore, InMemoryStorage, SequentialIds
from portal_core.billing.contract import (
    Contract,
    Grouping,
    HourlyTerms,
    TaxRule,
)
from portal_core.billing.rounding import RoundingRule
from portal_core.billing.service import BillingService, SetContract
from portal_core.billing.time_entries import TimeEntry
from portal_core.cases.model import Case, CaseStatus
from portal_core.cases.service import CaseService, ChangeStatus, SubmitCase
from portal_core.dispatch import EventDispatcher
from portal_core.events import DomainEvent
from portal_core.organisations.model import Organisation, Principal, Role, User

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
OCTOBER_DAY = date(2026, 10, 6)
_entry_ids = itertools.count(1)


def contract(**overrides: Any) -> Contract:
    """An hourly EUR contract: Senior 180.00/h, Engineer 140.00/h, VAT 20 %, monthly, minute
    rounding; override any setting."""
    settings: dict[str, Any] = {
        "id": "contract-1",
        "organisation_id": "acme",
        "terms": HourlyTerms(),
        "currency": "EUR",
        "rates": {"Senior": Decimal("180.00"), "Engineer": Decimal("140.00")},
        "tax": TaxRule(rate_percent=Decimal(20)),
        "grouping": Grouping.MONTHLY,
        "rounding": RoundingRule(),
        "created_at": START,
    }
    settings.update(overrides)
    return Contract(**settings)


def entry(
    minutes: int,
    *,
    case_id: str = "case-1",
    role: str = "Senior",
    work_date: date = OCTOBER_DAY,
    billable: bool = True,
    organisation_id: str = "acme",
    entry_id: str | None = None,
) -> TimeEntry:
    return TimeEntry(
        id=entry_id or f"entry-{next(_entry_ids)}",
        organisation_id=organisation_id,
        case_id=case_id,
        staff_id="sam",
        role=role,
        work_date=work_date,
        minutes=minutes,
        description="Work",
        billable=billable,
        logged_at=START,
    )


def user(uid: str, org: str | None, *roles: Role) -> User:
    return User(
        id=uid,
        email=f"{uid}@example.com",
        name=uid.title(),
        organisation_id=org,
        roles=frozenset(roles),
        created_at=START,
    )


@frozen
class World:
    storage: InMemoryStorage
    clock: FixedClock
    billing: BillingService
    cases: CaseService
    published: list[DomainEvent]
    admin: Principal
    staff: Principal
    acme_billing: Principal
    acme_viewer: Principal
    globex_billing: Principal

    def set_contract(self, organisation_id: str = "acme", **overrides: Any) -> Contract:
        settings: dict[str, Any] = {
            "organisation_id": organisation_id,
            "terms": HourlyTerms(),
            "currency": "EUR",
            "rates": {"Senior": Decimal("180.00"), "Engineer": Decimal("140.00")},
            "tax": TaxRule(rate_percent=Decimal(20)),
            "grouping": Grouping.MONTHLY,
        }
        settings.update(overrides)
        return self.billing.set_contract(self.admin, SetContract(**settings))

    def open_case(self, organisation_id: str = "acme", subject: str = "Annual accounts") -> Case:
        return self.cases.submit(
            self.staff,
            SubmitCase(subject=subject, description="", organisation_id=organisation_id),
        )

    def resolve(self, case: Case) -> Case:
        return self.cases.change_status(
            self.staff, ChangeStatus(case_id=case.id, status=CaseStatus.RESOLVED)
        )

    def snapshot(self) -> object:
        """Everything stored, for "nothing was written" checks."""
        state = self.storage.state
        return (
            list(state.contracts),
            dict(state.case_fees),
            dict(state.time_entries),
            dict(state.invoices),
            dict(state.credit_notes),
            dict(state.counters),
            len(state.audit),
            dict(state.outbox),
            dict(state.processed_events),
        )


def make_world(time_zone: str = "Europe/London") -> World:
    storage = InMemoryStorage()
    clock = FixedClock(START)
    ids = SequentialIds()
    dispatcher = EventDispatcher()
    published: list[DomainEvent] = []
    dispatcher.subscribe(DomainEvent, published.append)
    billing = BillingService(
        uow=storage.unit_of_work,
        clock=clock,
        ids=ids,
        dispatcher=dispatcher,
        time_zone=time_zone,
    )
    cases = CaseService(
        uow=storage.unit_of_work,
        clock=clock,
        ids=ids,
        files=InMemoryFileStore(clock),
        dispatcher=dispatcher,
    )
    people = [
        user("ada", None, Role.ADMIN),
        user("sam", None, Role.STAFF),
        user("bea", "acme", Role.BILLING_CONTACT),
        user("vic", "acme", Role.CLIENT_VIEWER),
        user("gus", "globex", Role.BILLING_CONTACT),
    ]
    with storage.unit_of_work() as uow:
        uow.organisations.add(Organisation(id="acme", name="Acme Ltd", created_at=START))
        uow.organisations.add(Organisation(id="globex", name="Globex GmbH", created_at=START))
        for person in people:
            uow.users.add(person)
        uow.commit()
    principals = {p.id: p.as_principal() for p in people}
    return World(
        storage=storage,
        clock=clock,
        billing=billing,
        cases=cases,
        published=published,
        admin=principals["ada"],
        staff=principals["sam"],
        acme_billing=principals["bea"],
        acme_viewer=principals["vic"],
        globex_billing=principals["gus"],
    )
