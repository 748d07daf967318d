"""The Notifier port, as the worker uses it: the in-memory fake, the local outbox, and SMTP
(behind OnceOnlyNotifier, which the worker always puts in front) deliver a notification's
recipient, subject and body, and the same dedupe key only once."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from adapters.email import LocalOutboxNotifier, SmtpNotifier, SmtpSettings
from adapters.memory import FixedClock, InMemoryNotifier, InMemoryStorage
from portal_core.notifications import OnceOnlyNotifier
from portal_core.ports import Notification, Notifier
from tests.contract.email.test_email_notifiers import SENDER, Mailbox, free_port

Delivered = Callable[[], list[tuple[str, str, str]]]
"""(to, subject, body) of everything delivered so far."""


def notification(key: str, body: str) -> Notification:
    return Notification(
        to="ann@acme.example",
        subject="New reply on request 00001001",
        body=body,
        kind="case_reply",
        dedupe_key=key,
    )


@pytest.fixture
def memory_notifier() -> tuple[Notifier, Delivered]:
    fake = InMemoryNotifier()
    return fake, lambda: [(n.to, n.subject, n.body) for n in fake.sent]


@pytest.fixture
def outbox_notifier(tmp_path: Path) -> tuple[Notifier, Delivered]:
    outbox = LocalOutboxNotifier(tmp_path / "outbox", sender=SENDER)

    def delivered() -> list[tuple[str, str, str]]:
        return [_fields(path.read_bytes()) for path in outbox.messages()]

    return outbox, delivered


@pytest.fixture
def smtp_notifier() -> Iterator[tuple[Notifier, Delivered]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = SmtpNotifier(SmtpSettings(host="127.0.0.1", port=port, security="none", sender=SENDER))
    once = OnceOnlyNotifier(smtp, uow=InMemoryStorage().unit_of_work, clock=FixedClock())
    try:
        yield once, lambda: [_fields(bytes(message)) for message in mailbox.messages]
    finally:
        controller.stop()


def _fields(raw: bytes) -> tuple[str, str, str]:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return str(parsed["To"]), str(parsed["Subject"]), parsed.get_content().strip()


@pytest.fixture(params=["memory", "outbox", "smtp"])
def notifier(request: pytest.FixtureRequest) -> tuple[Notifier, Delivered]:
    found: tuple[Notifier, Delivered] = request.getfixturevalue(f"{request.param}_notifier")
    return found


def test_a_notification_is_delivered_with_its_recipient_subject_and_body(
    notifier: tuple[Notifier, Delivered],
) -> None:
    sender, delivered = notifier
    sender.send(notification("case_reply:ev-1:ann", "Filed today."))
    assert delivered() == [("ann@acme.example", "New reply on request 00001001", "Filed today.")]


def test_the_same_dedupe_key_is_delivered_once_and_another_key_again(
    notifier: tuple[Notifier, Delivered],
) -> None:
    sender, delivered = notifier
    sender.send(notification("case_reply:ev-1:ann", "Filed today."))
    sender.send(notification("case_reply:ev-1:ann", "Filed today."))
    sender.send(notification("case_reply:ev-2:ann", "And the receipt."))
    assert sorted(body for _, _, body in delivered()) == ["And the receipt.", "Filed today."]
