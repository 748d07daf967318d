"""An e-mail is sent once per dedupe key, even when two workers deliver it at the same moment,
and a failed send is not remembered (the outbox retries it)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from adapters.memory import FixedClock
from portal_core.notifications import OnceOnlyNotifier
from portal_core.ports import Notification, UnitOfWorkFactory

MESSAGE = Notification(
    to="ann@acme.example",
    subject="Request 00001001 is now resolved",
    body="See it in the portal.",
    kind="case_status_changed",
    dedupe_key="case_status_changed:ev-1:ann",
)


class SlowMailServer:
    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[Notification] = []
        self.fail = fail
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        time.sleep(0.2)  # long enough for the other worker to arrive meanwhile
        if self.fail:
            raise ConnectionError("the mail server went away")
        with self._lock:
            self.sent.append(notification)


def test_two_workers_delivering_the_same_e_mail_at_once_send_it_once(
    uow: UnitOfWorkFactory,
) -> None:
    server = SlowMailServer()
    notifier = OnceOnlyNotifier(
        server, uow=uow, clock=FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    )
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            notifier.send(MESSAGE)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=deliver) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert errors == []
    assert server.sent == [MESSAGE]


def test_a_failed_send_is_sent_again_on_the_retry(uow: UnitOfWorkFactory) -> None:
    server = SlowMailServer(fail=True)
    notifier = OnceOnlyNotifier(
        server, uow=uow, clock=FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    )
    with pytest.raises(ConnectionError):
        notifier.send(MESSAGE)
    server.fail = False
    notifier.send(MESSAGE)
    notifier.send(MESSAGE)
    assert server.sent == [MESSAGE]
