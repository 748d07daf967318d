"""The outbox relay: at least once, every handler, back-off on failure, nothing lost."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from adapters.memory import FixedClock, InMemoryStorage
from portal_core.cases.model import CaseStatus, CaseStatusChanged, CommentAdded
from portal_core.delivery import OutboxRelay, RetryLater, merge_handlers
from portal_core.events import DomainEvent
from portal_core.ports import OutboxMessage
from tests.unit.sync.builders import START


def status_changed(event_id: str) -> CaseStatusChanged:
    return CaseStatusChanged(
        event_id=event_id,
        occurred_at=START,
        organisation_id="acme",
        actor_id="sam",
        case_id="c1",
        old_status=CaseStatus.NEW,
        new_status=CaseStatus.IN_PROGRESS,
    )


def queue(storage: InMemoryStorage, *events: DomainEvent) -> None:
    with storage.unit_of_work() as uow:
        for event in events:
            uow.outbox.add(
                OutboxMessage(id=event.event_id, event=event, created_at=START, available_at=START)
            )
        uow.commit()


def relay(storage: InMemoryStorage, clock: FixedClock, handlers, **options) -> OutboxRelay:  # type: ignore[no-untyped-def]
    return OutboxRelay(
        uow=storage.unit_of_work, clock=clock, handlers=handlers, draw=lambda: 0.0, **options
    )


def test_every_handler_registered_for_an_event_runs() -> None:
    storage, clock = InMemoryStorage(), FixedClock(START)
    calls: list[str] = []
    queue(storage, status_changed("e1"))
    report = relay(
        storage,
        clock,
        {
            CaseStatusChanged: [lambda e: calls.append("mail"), lambda e: calls.append("crm")],
            DomainEvent: lambda e: calls.append("live"),
            CommentAdded: lambda e: calls.append("never"),
        },
    ).run_once()
    assert (report.claimed, report.delivered) == (1, 1)
    assert sorted(calls) == ["crm", "live", "mail"]
    with storage.unit_of_work() as uow:
        assert uow.outbox.pending_count() == 0


def test_a_message_nobody_handles_is_delivered_and_not_claimed_again() -> None:
    storage, clock = InMemoryStorage(), FixedClock(START)
    queue(storage, status_changed("e1"))
    outbox = relay(storage, clock, {})
    assert outbox.run_once().delivered == 1
    clock.advance(timedelta(days=1))
    assert outbox.run_once().claimed == 0


def test_a_postponed_message_keeps_its_place_and_its_reason() -> None:
    storage, clock = InMemoryStorage(), FixedClock(START)
    queue(storage, status_changed("e1"))

    def not_yet(event: DomainEvent) -> None:
        raise RetryLater("case C-000001 is not yet registered")

    report = relay(storage, clock, {CaseStatusChanged: not_yet}).run_once()
    assert report.failures == ("e1",)
    message = storage.state.outbox["e1"]
    assert message.last_error == "RetryLater: case C-000001 is not yet registered"
    assert message.available_at == START + timedelta(seconds=30)
    assert message.delivered_at is None


def test_a_claimed_message_is_hidden_from_other_workers_for_its_lease() -> None:
    storage, clock = InMemoryStorage(), FixedClock(START)
    queue(storage, status_changed("e1"))
    with storage.unit_of_work() as uow:
        uow.outbox.claim(limit=10, now=START, lease=timedelta(minutes=5))
        uow.commit()
    # the first worker died holding it: nobody else gets it until the lease runs out
    outbox = relay(storage, clock, {})
    assert outbox.run_once().claimed == 0
    clock.advance(timedelta(minutes=5))
    assert outbox.run_once().delivered == 1


def test_a_long_error_is_cut_short_in_the_outbox() -> None:
    storage, clock = InMemoryStorage(), FixedClock(START)
    queue(storage, status_changed("e1"))

    def fails(event: DomainEvent) -> None:
        raise ValueError("x" * 5000)

    relay(storage, clock, {CaseStatusChanged: fails}).run_once()
    error = storage.state.outbox["e1"].last_error
    assert error is not None
    assert len(error) == 500


def test_a_batch_takes_at_most_its_size() -> None:
    storage, clock = InMemoryStorage(), FixedClock(START)
    queue(storage, *(status_changed(f"e{n}") for n in range(5)))
    outbox = relay(storage, clock, {}, batch_size=2)
    assert [outbox.run_once().claimed for _ in range(4)] == [2, 2, 1, 0]


@given(
    messages=st.integers(1, 8),
    failures=st.lists(st.booleans(), max_size=40),
    batch_size=st.integers(1, 5),
)
def test_whatever_fails_in_between_every_message_is_delivered_in_the_end(
    messages: int, failures: list[bool], batch_size: int
) -> None:
    storage, clock = InMemoryStorage(), FixedClock(START)
    queue(storage, *(status_changed(f"e{n}") for n in range(messages)))
    pattern = iter(failures)
    delivered: list[str] = []

    def flaky(event: DomainEvent) -> None:
        if next(pattern, False):
            raise ConnectionError("down")
        delivered.append(event.event_id)

    outbox = relay(storage, clock, {CaseStatusChanged: flaky}, batch_size=batch_size)
    for _ in range(len(failures) + messages + 1):
        clock.advance(timedelta(hours=2))
        outbox.run_once()
    assert sorted(delivered) == sorted(f"e{n}" for n in range(messages))
    with storage.unit_of_work() as uow:
        assert uow.outbox.pending_count() == 0


def test_registries_of_several_owners_merge_without_losing_a_handler() -> None:
    def mail(event: DomainEvent) -> None: ...
    def crm(event: DomainEvent) -> None: ...
    def live(event: DomainEvent) -> None: ...

    merged = merge_handlers({CaseStatusChanged: mail}, {CaseStatusChanged: [crm, live]})
    assert merged == {CaseStatusChanged: (mail, crm, live)}
