from __future__ import annotations

from datetime import timedelta

import pytest

from portal_core.cases.model import CaseStatus, CaseStatusChanged
from portal_core.errors import Conflict, NotFound
from portal_core.ports import OutboxMessage, UnitOfWorkFactory

from .factories import at, submitted_case

LEASE = timedelta(minutes=5)


def message(message_id: str, *, minute: int = 0) -> OutboxMessage:
    event = CaseStatusChanged(
        event_id=f"evt-{message_id}",
        occurred_at=at(minute),
        organisation_id="org-1",
        actor_id="s-1",
        case_id="c-1",
        old_status=CaseStatus.NEW,
        new_status=CaseStatus.IN_PROGRESS,
    )
    return OutboxMessage(id=message_id, event=event, created_at=at(minute), available_at=at(minute))


def test_a_message_keeps_its_event(uow: UnitOfWorkFactory) -> None:
    submitted = submitted_case("c-1")[1]
    stored = OutboxMessage(id="m-1", event=submitted, created_at=at(0), available_at=at(0))
    with uow() as work:
        work.outbox.add(stored)
        with pytest.raises(Conflict):
            work.outbox.add(stored)
        work.commit()
    with uow() as work:
        (claimed,) = work.outbox.claim(limit=10, now=at(1), lease=LEASE)
    assert claimed.event == submitted
    assert type(claimed.event) is type(submitted)


def test_due_messages_are_claimed_oldest_first_and_hidden_for_the_lease(
    uow: UnitOfWorkFactory,
) -> None:
    with uow() as work:
        for number, minute in enumerate([3, 1, 2, 50], start=1):
            work.outbox.add(message(f"m-{number}", minute=minute))
        work.commit()
    with uow() as work:
        claimed = work.outbox.claim(limit=2, now=at(10), lease=LEASE)
        work.commit()
    assert [(m.id, m.attempts, m.available_at) for m in claimed] == [
        ("m-2", 1, at(10) + LEASE),
        ("m-3", 1, at(10) + LEASE),
    ]
    with uow() as work:
        assert [m.id for m in work.outbox.claim(limit=10, now=at(11), lease=LEASE)] == ["m-1"]
        assert work.outbox.claim(limit=10, now=at(12), lease=LEASE) == []
        # once the lease runs out, an unconfirmed message is due again
        again = work.outbox.claim(limit=10, now=at(16), lease=LEASE)
        assert [(m.id, m.attempts) for m in again] == [("m-2", 2), ("m-3", 2), ("m-1", 2)]


def test_delivered_messages_are_never_claimed_again(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.outbox.add(message("m-1"))
        work.outbox.add(message("m-2"))
        work.commit()
    with uow() as work:
        work.outbox.claim(limit=10, now=at(1), lease=LEASE)
        work.outbox.mark_delivered("m-1", at=at(2))
        work.outbox.mark_failed("m-2", error="SMTP 451", retry_at=at(30))
        work.commit()
    with uow() as work:
        assert work.outbox.pending_count() == 1
        assert work.outbox.claim(limit=10, now=at(29), lease=LEASE) == []
        (retried,) = work.outbox.claim(limit=10, now=at(30), lease=LEASE)
    assert (retried.id, retried.last_error, retried.attempts) == ("m-2", "SMTP 451", 2)


def test_marking_an_unknown_message_is_refused(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        with pytest.raises(NotFound):
            work.outbox.mark_delivered("m-9", at=at(0))
        with pytest.raises(NotFound):
            work.outbox.mark_failed("m-9", error="x", retry_at=at(0))
