"""Sync takes its locks in the portal's one order, so concurrent writers never deadlock."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from adapters.memory import FixedClock, InMemoryStorage, InMemoryUnitOfWork, SequentialIds
from portal_core.cases.model import CaseStatus
from portal_core.dispatch import EventDispatcher
from portal_core.organisations.model import Organisation
from portal_core.sync import SyncService
from tests.unit.sync.builders import ACME_ACCOUNT, START, change

WRITES = {
    ("processed_events", "record"),
    ("counters", "next_value"),
    ("cases", "add"),
    ("cases", "update"),
    ("history", "append"),
    ("audit", "append"),
    ("outbox", "add"),
    ("processed_events", "record_many"),
    ("cases", "update_many"),
    ("history", "append_many"),
    ("audit", "append_many"),
    ("outbox", "add_many"),
}


class Recorder:
    def __init__(self, name: str, inner: Any, calls: list[tuple[str, str, Any]]) -> None:
        self._name, self._inner, self._calls = name, inner, calls

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._inner, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            if (self._name, method) in WRITES:
                self._calls.append((self._name, method, args))
            return target(*args, **kwargs)

        return call


class RecordingUnitOfWork:
    def __init__(self, inner: InMemoryUnitOfWork, calls: list[tuple[str, str, Any]]) -> None:
        self._inner, self._calls = inner, calls

    def __enter__(self) -> Self:
        self._inner.__enter__()
        for name in ("organisations", "cases", "history", "audit", "outbox", "counters"):
            setattr(self, name, Recorder(name, getattr(self._inner, name), self._calls))
        self.processed_events = Recorder(
            "processed_events", self._inner.processed_events, self._calls
        )
        self.users = self._inner.users
        self.attachments = self._inner.attachments
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()


def test_locks_follow_the_portals_order_whatever_the_message_order() -> None:
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        uow.organisations.add(
            Organisation(id="acme", name="A", external_account_id=ACME_ACCOUNT, created_at=START)
        )
        uow.commit()
    ids = SequentialIds("s")
    plain = SyncService(
        uow=storage.unit_of_work, clock=FixedClock(START), ids=ids, dispatcher=EventDispatcher()
    )
    plain.apply([change("a", external_id="500000000000009AAA"), change("b")])
    calls: list[tuple[str, str, Any]] = []
    recording = SyncService(
        uow=lambda: RecordingUnitOfWork(storage.unit_of_work(), calls),  # type: ignore[arg-type,return-value]
        clock=FixedClock(START),
        ids=ids,
        dispatcher=EventDispatcher(),
    )
    recording.apply(
        [
            change("z", external_id="500000000000009AAA", minutes=5, status=CaseStatus.CLOSED),
            change("y", external_id="500000000000005AAA"),  # a new case: imported
            change("x", minutes=5, status=CaseStatus.RESOLVED),
        ]
    )
    kinds = [(name, method) for name, method, _ in calls]
    phases = [
        {("processed_events", "record"), ("processed_events", "record_many")},
        {("counters", "next_value")},
        {("cases", "add")},
        {
            ("history", "append"),
            ("audit", "append"),
            ("outbox", "add"),
            ("history", "append_many"),
            ("audit", "append_many"),
            ("outbox", "add_many"),
        },
        {("cases", "update"), ("cases", "update_many")},
    ]
    phase_of = [next(i for i, phase in enumerate(phases) if kind in phase) for kind in kinds]
    assert phase_of == sorted(phase_of)
    processed = [
        pair
        for name, method, args in calls
        if name == "processed_events"
        for pair in (args[0] if method == "record_many" else [args[:2]])
    ]
    assert processed == sorted(processed)
    assert [event_id for _, event_id in processed] == ["x", "y", "z"]
    updated = [
        case.id
        for name, method, args in calls
        if name == "cases" and method in ("update", "update_many")
        for case in ([args[0]] if method == "update" else [c for c, _ in args[0]])
    ]
    assert updated == sorted(updated)
    assert len(updated) == 2
