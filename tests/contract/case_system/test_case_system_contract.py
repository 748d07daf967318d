"""One contract for every case system of record: the in-memory fake, the portal's own
database (the embedded default) and Salesforce (the adapter on the emulator)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from attrs import frozen

from adapters.local.case_system import PortalCaseSystem
from adapters.memory import FixedClock, InMemoryCaseSystem, InMemoryStorage, SequentialIds
from adapters.salesforce import SalesforceCaseSystem
from portal_core.cases.model import Case, CaseStatus, Priority
from portal_core.errors import NotFound
from portal_core.organisations.model import Organisation
from portal_core.ports import CaseSystem
from tests.contract.salesforce.fixtures import START, TickingClock

ACCOUNT = "001000000000ACMEAA"
UNKNOWN = "500000000000404AAA"


@frozen
class Harness:
    system: CaseSystem
    now: Callable[[], datetime]
    store: Callable[[Case], None]
    """Make the case exist in the portal first, as the write-back always finds it."""

    def submit(self, case_id: str, subject: str = "VAT return") -> Case:
        case, _ = Case.submit(
            case_id=case_id,
            organisation_id="acme",
            reference=f"C-{case_id}",
            subject=subject,
            description="Q2 figures attached",
            priority=Priority.HIGH,
            submitted_by="ann",
            event_id=f"submitted-{case_id}",
            at=self.now(),
        )
        self.store(case)
        return case


def portal_storage() -> InMemoryStorage:
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(id="acme", name="Acme", external_account_id=ACCOUNT, created_at=START)
        )
        uow.commit()
    return storage


def store_in(storage: InMemoryStorage) -> Callable[[Case], None]:
    def store(case: Case) -> None:
        with storage.unit_of_work() as uow:
            uow.cases.add(case)
            uow.commit()

    return store


@pytest.fixture
def memory_system() -> Harness:
    clock = TickingClock(START)
    return Harness(InMemoryCaseSystem(clock), clock.now, store_in(portal_storage()))


@pytest.fixture
def portal_system() -> Harness:
    clock = TickingClock(START)
    storage = portal_storage()
    system = PortalCaseSystem(storage.unit_of_work, clock=clock, ids=SequentialIds())
    return Harness(system, clock.now, store_in(storage))


@pytest.fixture
def salesforce_system(salesforce: SalesforceCaseSystem, sf_clock: FixedClock) -> Harness:
    return Harness(salesforce, sf_clock.now, store_in(portal_storage()))


@pytest.fixture(params=["memory", "portal", "salesforce"])
def harness(request: pytest.FixtureRequest) -> Harness:
    found: Harness = request.getfixturevalue(f"{request.param}_system")
    return found


def test_a_created_case_can_be_read_back_with_its_number(harness: Harness) -> None:
    case = harness.submit("case-1")
    created = harness.system.create_case(case, account_id=ACCOUNT)
    assert created.number
    fetched = harness.system.fetch(created.external_id)
    assert fetched is not None
    assert fetched.number == created.number
    assert (fetched.subject, fetched.description) == ("VAT return", "Q2 figures attached")
    assert (fetched.status, fetched.priority) == (CaseStatus.NEW, Priority.HIGH)
    assert fetched.account_id == ACCOUNT


def test_creating_the_same_case_again_never_makes_a_second_one(harness: Harness) -> None:
    case = harness.submit("case-1")
    first = harness.system.create_case(case, account_id=ACCOUNT)
    again = harness.system.create_case(case, account_id=ACCOUNT)
    assert (again.external_id, again.number) == (first.external_id, first.number)
    assert [c.external_id for c in harness.system.changed_since(START)] == [first.external_id]


def test_a_status_change_is_kept(harness: Harness) -> None:
    created = harness.system.create_case(harness.submit("case-1"), account_id=ACCOUNT)
    harness.system.update_status(created.external_id, CaseStatus.WAITING_ON_CLIENT)
    fetched = harness.system.fetch(created.external_id)
    assert fetched is not None
    assert fetched.status is CaseStatus.WAITING_ON_CLIENT
    assert fetched.last_modified >= created.last_modified


def test_a_public_comment_on_a_known_case_is_accepted(harness: Harness) -> None:
    created = harness.system.create_case(harness.submit("case-1"), account_id=ACCOUNT)
    harness.system.add_public_comment(created.external_id, "Figures attached.")


def test_an_unknown_case_is_absent_and_cannot_be_written(harness: Harness) -> None:
    assert harness.system.fetch(UNKNOWN) is None
    with pytest.raises(NotFound):
        harness.system.update_status(UNKNOWN, CaseStatus.CLOSED)
    with pytest.raises(NotFound):
        harness.system.add_public_comment(UNKNOWN, "Hello")


def test_changed_since_lists_the_cases_changed_from_then_oldest_first(harness: Harness) -> None:
    first = harness.system.create_case(harness.submit("case-1", "First"), account_id=ACCOUNT)
    second = harness.system.create_case(harness.submit("case-2", "Second"), account_id=ACCOUNT)
    third = harness.system.create_case(harness.submit("case-3", "Third"), account_id=ACCOUNT)
    everything = list(harness.system.changed_since(START - timedelta(days=1)))
    assert [c.subject for c in everything] == ["First", "Second", "Third"]
    recent = list(harness.system.changed_since(second.last_modified))
    assert [c.external_id for c in recent] == [second.external_id, third.external_id]
    assert first.external_id not in [c.external_id for c in recent]
