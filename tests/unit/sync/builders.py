"""A sync world on the in-memory fakes: two client organisations linked to Salesforce accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attrs import frozen

from adapters.memory import FixedClock, InMemoryStorage, SequentialIds
from portal_core.cases.model import Case, CaseStatus, Priority
from portal_core.cases.service import format_case_reference
from portal_core.dispatch import EventDispatcher
from portal_core.events import DomainEvent
from portal_core.organisations.model import Organisation
from portal_core.sync import SOURCE_OUTBOUND_MESSAGE, InboundCaseChange, SyncService

START = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
ACME_ACCOUNT = "001000000000ACMEAA"
GLOBEX_ACCOUNT = "001000000000GLOBAA"


@frozen
class SyncWorld:
    storage: InMemoryStorage
    clock: FixedClock
    ids: SequentialIds
    dispatcher: EventDispatcher
    service: SyncService
    dispatched: list[DomainEvent]

    def case_by_external_id(self, external_id: str) -> Case | None:
        with self.storage.unit_of_work() as uow:
            return uow.cases.by_external_id(external_id)

    def add_portal_case(self, case_id: str = "case-1", organisation_id: str = "acme") -> Case:
        with self.storage.unit_of_work() as uow:
            number = uow.counters.next_value("case")
            case, submitted = Case.submit(
                case_id=case_id,
                organisation_id=organisation_id,
                reference=format_case_reference(number),
                subject="Payroll question",
                description="How do we register a new hire?",
                priority=Priority.NORMAL,
                submitted_by="ann",
                event_id=f"submitted-{case_id}",
                at=self.clock.now(),
            )
            uow.cases.add(case)
            uow.history.append(submitted)
            uow.commit()
        return case

    def outbox_kinds(self) -> list[str]:
        return [m.event.kind for m in self.storage.state.outbox.values()]


def make_world() -> SyncWorld:
    storage = InMemoryStorage()
    clock = FixedClock(START)
    ids = SequentialIds("sync")
    dispatcher = EventDispatcher()
    dispatched: list[DomainEvent] = []
    dispatcher.subscribe(DomainEvent, dispatched.append)
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(
                id="acme", name="Acme Ltd", external_account_id=ACME_ACCOUNT, created_at=START
            )
        )
        uow.organisations.add(
            Organisation(
                id="globex",
                name="Globex GmbH",
                external_account_id=GLOBEX_ACCOUNT,
                created_at=START,
            )
        )
        uow.commit()
    service = SyncService(uow=storage.unit_of_work, clock=clock, ids=ids, dispatcher=dispatcher)
    return SyncWorld(storage, clock, ids, dispatcher, service, dispatched)


def change(
    event_id: str,
    *,
    external_id: str = "500000000000001AAA",
    minutes: int = 0,
    status: CaseStatus | None = CaseStatus.NEW,
    subject: str | None = "Payroll question",
    description: str | None = "How do we register a new hire?",
    priority: Priority | None = Priority.NORMAL,
    number: str | None = "00001001",
    account_id: str | None = ACME_ACCOUNT,
    portal_case_id: str | None = None,
    from_portal: bool = False,
    source: str = SOURCE_OUTBOUND_MESSAGE,
) -> InboundCaseChange:
    return InboundCaseChange(
        source=source,
        event_id=event_id,
        external_id=external_id,
        modified_at=START + timedelta(minutes=minutes),
        account_id=account_id,
        number=number,
        subject=subject,
        description=description,
        status=status,
        priority=priority,
        portal_case_id=portal_case_id,
        from_portal=from_portal,
    )
