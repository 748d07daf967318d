"""Writes to the case system go through the outbox: the client never waits on its health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from adapters.memory import (
    FixedClock,
    InMemoryCaseSystem,
    InMemoryFileStore,
    InMemoryStorage,
    SequentialIds,
)
from portal_core.cases.model import (
    AttachmentAdded,
    Case,
    CaseDetailsChanged,
    CaseStatus,
    CaseStatusChanged,
    CaseSubmitted,
    CommentAdded,
    Priority,
    Visibility,
)
from portal_core.cases.service import AddComment, CaseService, ChangeStatus, SubmitCase
from portal_core.delivery import BackoffPolicy, OutboxRelay, RetryLater
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation, Principal, Role, User
from portal_core.ports import CaseSystem, ExternalCase
from portal_core.sync import CaseSystemWriter, is_pending
from tests.unit.sync.builders import ACME_ACCOUNT, START


class FlakyCaseSystem:
    """The in-memory case system behind a switch: down means every call fails."""

    def __init__(self, inner: InMemoryCaseSystem) -> None:
        self.inner = inner
        self.down = False
        self.lose_next_answer = False
        self.creates = 0

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("case system unavailable")

    def create_case(self, case: Case, *, account_id: str | None) -> ExternalCase:
        self._check()
        self.creates += 1
        created = self.inner.create_case(case, account_id=account_id)
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise TimeoutError("the answer was lost")
        return created

    def update_status(self, external_id: str, status: CaseStatus) -> None:
        self._check()
        self.inner.update_status(external_id, status)

    def add_public_comment(self, external_id: str, body: str) -> None:
        self._check()
        self.inner.add_public_comment(external_id, body)

    def fetch(self, external_id: str) -> ExternalCase | None:
        return self.inner.fetch(external_id)

    def changed_since(self, since: datetime) -> Iterator[ExternalCase]:
        return self.inner.changed_since(since)


class Portal:
    def __init__(self) -> None:
        self.storage = InMemoryStorage()
        self.clock = FixedClock(START)
        ids = SequentialIds()
        dispatcher = EventDispatcher()
        self.case_system = FlakyCaseSystem(InMemoryCaseSystem(self.clock))
        system: CaseSystem = self.case_system
        self.cases = CaseService(
            uow=self.storage.unit_of_work,
            clock=self.clock,
            ids=ids,
            files=InMemoryFileStore(self.clock),
            dispatcher=dispatcher,
        )
        writer = CaseSystemWriter(
            uow=self.storage.unit_of_work,
            case_system=system,
            clock=self.clock,
            ids=ids,
            dispatcher=dispatcher,
        )
        self.relay = OutboxRelay(
            uow=self.storage.unit_of_work,
            clock=self.clock,
            handlers=writer.handlers(),
            draw=lambda: 0.0,
            backoff=BackoffPolicy(initial=timedelta(seconds=30), maximum=timedelta(hours=1)),
        )
        ann = User(
            id="ann",
            email="ann@example.com",
            name="Ann",
            organisation_id="acme",
            roles=frozenset({Role.CLIENT_ADMIN}),
            created_at=START,
        )
        with self.storage.unit_of_work() as uow:
            uow.organisations.add(
                Organisation(
                    id="acme", name="Acme", external_account_id=ACME_ACCOUNT, created_at=START
                )
            )
            uow.users.add(ann)
            uow.commit()
        self.ann = ann.as_principal()
        self.staff = Principal(user_id="sam", organisation_id=None, roles=frozenset({Role.STAFF}))

    def case(self, case_id: str) -> Case:
        with self.storage.unit_of_work() as uow:
            found = uow.cases.get(case_id)
        assert found is not None
        return found

    def deliver_until_quiet(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            self.clock.advance(timedelta(hours=1))
            if self.relay.run_once().claimed == 0:
                return


def test_a_new_case_is_confirmed_at_once_and_numbered_when_the_case_system_accepts_it() -> None:
    portal = Portal()
    portal.case_system.down = True
    case = portal.cases.submit(portal.ann, SubmitCase(subject="VAT return", description=""))
    assert case.number == case.reference == "C-000001"
    assert is_pending(case)

    report = portal.relay.run_once()
    assert (report.claimed, report.failed) == (1, 1)
    assert is_pending(portal.case(case.id))

    portal.case_system.down = False
    portal.deliver_until_quiet()
    linked = portal.case(case.id)
    assert not is_pending(linked)
    assert linked.number == "00001000"
    created = portal.case_system.fetch(linked.external_id or "")
    assert created is not None
    assert created.account_id == ACME_ACCOUNT


def test_a_retried_creation_never_makes_a_second_case() -> None:
    portal = Portal()
    case = portal.cases.submit(portal.ann, SubmitCase(subject="VAT return", description=""))
    portal.case_system.lose_next_answer = True  # created there, but the answer never arrives
    assert portal.relay.run_once().failed == 1
    portal.deliver_until_quiet()
    assert portal.case_system.creates == 2
    assert len(list(portal.case_system.changed_since(START - timedelta(days=1)))) == 1
    assert portal.case(case.id).number == "00001000"


def test_a_status_change_waits_for_the_case_to_be_registered_then_reaches_the_case_system() -> None:
    portal = Portal()
    portal.case_system.down = True
    case = portal.cases.submit(portal.ann, SubmitCase(subject="VAT return", description=""))
    portal.cases.change_status(
        portal.staff, ChangeStatus(case_id=case.id, status=CaseStatus.IN_PROGRESS)
    )
    portal.relay.run_once()
    portal.case_system.down = False
    portal.deliver_until_quiet()
    linked = portal.case(case.id)
    external = portal.case_system.fetch(linked.external_id or "")
    assert external is not None
    assert external.status is CaseStatus.IN_PROGRESS
    with portal.storage.unit_of_work() as uow:
        assert uow.outbox.pending_count() == 0


def test_public_comments_reach_the_case_system_and_internal_notes_never_do() -> None:
    portal = Portal()
    case = portal.cases.submit(portal.ann, SubmitCase(subject="VAT return", description=""))
    portal.cases.comment(portal.ann, AddComment(case_id=case.id, body="Attached the figures."))
    portal.cases.comment(
        portal.staff,
        AddComment(
            case_id=case.id, body="Client seems late again.", visibility=Visibility.INTERNAL
        ),
    )
    portal.deliver_until_quiet()
    external_id = portal.case(case.id).external_id
    assert external_id is not None
    assert portal.case_system.inner.comments[external_id] == ["Attached the figures."]


def test_changes_made_by_the_case_system_are_not_written_back() -> None:
    portal = Portal()
    case = portal.cases.submit(portal.ann, SubmitCase(subject="VAT return", description=""))
    portal.deliver_until_quiet()
    event = CaseStatusChanged(
        event_id="x",
        occurred_at=START,
        organisation_id="acme",
        actor_id="system:salesforce",
        case_id=case.id,
        old_status=CaseStatus.NEW,
        new_status=CaseStatus.CLOSED,
    )
    portal.case_system.down = True  # any call would fail
    CaseSystemWriter(
        uow=portal.storage.unit_of_work,
        case_system=portal.case_system,
        clock=portal.clock,
        ids=SequentialIds("w"),
        dispatcher=EventDispatcher(),
    ).push_status(event)
    portal.case_system.down = False
    external = portal.case_system.fetch(portal.case(case.id).external_id or "")
    assert external is not None
    assert external.status is CaseStatus.NEW


def test_the_retry_delay_doubles_up_to_its_cap_and_is_jittered_downwards() -> None:
    policy = BackoffPolicy(initial=timedelta(seconds=30), maximum=timedelta(hours=1), jitter=0.5)
    delays = [policy.delay(n, lambda: 0.0).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert policy.delay(3, lambda: 0.999).total_seconds() == pytest.approx(60.06)
    assert policy.delay(10_000, lambda: 0.0) == timedelta(hours=1)


def test_a_failed_message_waits_for_its_back_off_before_the_next_attempt() -> None:
    portal = Portal()
    portal.case_system.down = True
    portal.cases.submit(portal.ann, SubmitCase(subject="VAT return", description=""))
    assert portal.relay.run_once().failed == 1
    portal.clock.advance(timedelta(seconds=29))
    assert portal.relay.run_once().claimed == 0
    portal.clock.advance(timedelta(seconds=2))
    assert portal.relay.run_once().claimed == 1
    [message] = portal.storage.state.outbox.values()
    assert message.last_error == "ConnectionError: case system unavailable"
    assert message.attempts == 2


class RecordingExtras:
    """The optional sides of a case system: details updates and file references."""

    def __init__(self) -> None:
        self.details: list[tuple[str, str, Priority]] = []
        self.files: list[tuple[str, str, str]] = []

    def update_details(
        self, external_id: str, *, subject: str, description: str, priority: Priority
    ) -> None:
        self.details.append((external_id, subject, priority))

    def attach_file_reference(
        self,
        external_id: str,
        *,
        file_id: str,
        name: str,
        url: str,
        size: int,
        content_type: str,
    ) -> None:
        self.files.append((external_id, name, url))


def test_details_and_file_references_follow_the_case_once_it_is_registered() -> None:
    portal = Portal()
    extras = RecordingExtras()
    writer = CaseSystemWriter(
        uow=portal.storage.unit_of_work,
        case_system=portal.case_system,
        clock=portal.clock,
        ids=SequentialIds("w"),
        dispatcher=EventDispatcher(),
        details=extras,
        file_references=extras,
        file_link=lambda case_id, file_id: (
            f"https://portal.example/cases/{case_id}/files/{file_id}"
        ),
    )
    case = portal.cases.submit(portal.ann, SubmitCase(subject="VAT return", description=""))
    changed, event = portal.case(case.id).change_details(
        subject="VAT return Q2",
        description="",
        priority=Priority.URGENT,
        actor_id="sam",
        event_id="details-1",
        at=START,
    )
    attachment = AttachmentAdded(
        event_id="file-1",
        occurred_at=START,
        organisation_id="acme",
        actor_id="ann",
        case_id=case.id,
        attachment_id="att-1",
        display_name="figures.pdf",
        size=10,
        content_type="application/pdf",
    )
    with pytest.raises(RetryLater):
        writer.push_details(event)
    writer.create_case(next(iter(portal.storage.state.outbox.values())).event)  # type: ignore[arg-type]
    writer.push_details(event)
    writer.push_file_reference(attachment)
    external_id = portal.case(case.id).external_id
    assert extras.details == [(external_id, "VAT return Q2", Priority.URGENT)]
    assert extras.files == [
        (external_id, "figures.pdf", f"https://portal.example/cases/{case.id}/files/att-1")
    ]
    assert set(writer.handlers()) == {
        CaseSubmitted,
        CaseStatusChanged,
        CommentAdded,
        CaseDetailsChanged,
        AttachmentAdded,
    }
    assert changed.subject == "VAT return Q2"
