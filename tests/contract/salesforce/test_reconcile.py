"""Reconciliation: onboarding and healing through the same idempotency layer; resumable."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from adapters.memory import FixedClock, InMemoryStorage, SequentialIds
from adapters.salesforce import (
    FileCheckpoint,
    MemoryCheckpoint,
    ReconcileProgress,
    RichReconcileProgress,
    SalesforceCaseSystem,
    reconcile,
)
from portal_core.cases.model import CaseStatus
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation
from portal_core.sync import SyncService
from tests.contract.salesforce.emulator import SalesforceEmulator
from tests.contract.salesforce.fixtures import START

ACME = "001000000000ACMEAA"
OTHER = "001000000000OTHRAA"


@pytest.fixture
def storage() -> InMemoryStorage:
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(id="acme", name="Acme", external_account_id=ACME, created_at=START)
        )
        uow.commit()
    return storage


@pytest.fixture
def sync(storage: InMemoryStorage) -> SyncService:
    return SyncService(
        uow=storage.unit_of_work,
        clock=FixedClock(START),
        ids=SequentialIds(),
        dispatcher=EventDispatcher(),
    )


def seed(emulator: SalesforceEmulator, count: int) -> None:
    for n in range(count):
        emulator.staff_create(Subject=f"Case {n}", AccountId=ACME, Status="Working")
    emulator.staff_create(Subject="Someone else's", AccountId=OTHER)


def test_onboarding_imports_a_clients_existing_cases_and_skips_other_accounts(
    salesforce: SalesforceCaseSystem,
    sync: SyncService,
    storage: InMemoryStorage,
    emulator: SalesforceEmulator,
) -> None:
    seed(emulator, 7)
    seen: list[ReconcileProgress] = []
    report = reconcile(salesforce, sync, START, progress=seen.append)
    assert (report.imported, report.skipped, report.records, report.pages) == (7, 1, 8, 3)
    assert {c.subject for c in storage.state.cases.values()} == {f"Case {n}" for n in range(7)}
    assert all(c.status is CaseStatus.IN_PROGRESS for c in storage.state.cases.values())
    assert [p.records_done for p in seen] == [3, 6, 8]
    assert seen[0].records_total == 8


def test_a_second_run_changes_nothing(
    salesforce: SalesforceCaseSystem,
    sync: SyncService,
    storage: InMemoryStorage,
    emulator: SalesforceEmulator,
) -> None:
    seed(emulator, 4)
    reconcile(salesforce, sync, START)
    state = (dict(storage.state.cases), len(storage.state.history), len(storage.state.outbox))
    report = reconcile(salesforce, sync, START)
    assert (report.imported, report.applied, report.duplicates) == (0, 0, 4)
    assert (
        dict(storage.state.cases),
        len(storage.state.history),
        len(storage.state.outbox),
    ) == state


def test_healing_applies_what_changed_since_the_last_run(
    salesforce: SalesforceCaseSystem,
    sync: SyncService,
    storage: InMemoryStorage,
    emulator: SalesforceEmulator,
) -> None:
    seed(emulator, 3)
    reconcile(salesforce, sync, START)
    first = emulator.cases()[0]
    emulator.staff_update(first["Id"], Status="Closed")
    report = reconcile(salesforce, sync, START)
    assert report.applied == 1
    with storage.unit_of_work() as uow:
        case = uow.cases.by_external_id(first["Id"])
    assert case is not None
    assert case.status is CaseStatus.CLOSED


def test_an_interrupted_run_resumes_from_its_checkpoint(
    salesforce: SalesforceCaseSystem,
    sync: SyncService,
    storage: InMemoryStorage,
    emulator: SalesforceEmulator,
    tmp_path: Path,
) -> None:
    seed(emulator, 7)
    checkpoint = FileCheckpoint(tmp_path / "reconcile.json")

    class Interrupted(Exception):
        pass

    def stop_after_first_page(progress: ReconcileProgress) -> None:
        if progress.pages_done == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        reconcile(salesforce, sync, START, checkpoint=checkpoint, progress=stop_after_first_page)
    assert len(storage.state.cases) == 3
    position = checkpoint.load()
    assert position is not None
    resumed = reconcile(salesforce, sync, START, checkpoint=checkpoint)
    assert resumed.started_from == position
    assert resumed.records < 8  # the first page is not read again in full
    assert len(storage.state.cases) == 7


def test_a_checkpoint_later_than_the_requested_time_wins(
    salesforce: SalesforceCaseSystem, sync: SyncService, emulator: SalesforceEmulator
) -> None:
    seed(emulator, 2)
    later = START + timedelta(days=1)
    report = reconcile(salesforce, sync, START, checkpoint=MemoryCheckpoint(later))
    assert (report.started_from, report.records) == (later, 0)


def test_the_progress_bar_follows_the_pages(
    salesforce: SalesforceCaseSystem, sync: SyncService, emulator: SalesforceEmulator
) -> None:
    seed(emulator, 4)
    console = Console(file=io.StringIO(), force_terminal=False, width=100)
    with RichReconcileProgress(console) as bar:
        reconcile(salesforce, sync, START, progress=bar)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Reconciling cases" in output
    assert "5/5" in output
