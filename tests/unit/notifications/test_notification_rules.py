"""Who is e-mailed about what, through the outbox relay on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory import InMemoryNotificationPreferences, InMemoryNotifier, InMemoryPublisher
from portal_core.billing.events import InvoiceIssued
from portal_core.cases.model import Case, CaseStatus, Priority, Visibility
from portal_core.cases.service import AddComment, AssignCase, ChangeStatus, SubmitCase
from portal_core.delivery import OutboxRelay
from portal_core.errors import InvalidInput, PermissionDenied
from portal_core.identity.events import InvitationSent, PasswordChanged
from portal_core.notifications import (
    MANDATORY_KINDS,
    OPTIONAL_KINDS,
    EmailNotices,
    LivePublishing,
    NotificationKind,
    NotificationPreferences,
    NotificationPreferencesService,
    OnceOnlyNotifier,
    PreferenceRespectingNotifier,
    Site,
)
from portal_core.organisations.model import Principal
from portal_core.ports import Notification
from tests.unit.cases.builders import World, make_world

SITE = Site(base_url="https://portal.example.com", firm_name="Example Partners")


class Delivery:
    def __init__(self, world: World) -> None:
        self.world = world
        self.notifier = InMemoryNotifier()
        self.preferences = InMemoryNotificationPreferences()
        notices = EmailNotices(
            uow=world.storage.unit_of_work,
            notifier=self.notifier,
            preferences=self.preferences,
            site=SITE,
        )
        self.relay = OutboxRelay(
            uow=world.storage.unit_of_work,
            clock=world.clock,
            handlers=notices.handlers(),
            draw=lambda: 0.0,
        )

    def deliver(self) -> list[Notification]:
        before = len(self.notifier.sent)
        while self.relay.run_once().claimed:
            pass
        return self.notifier.sent[before:]


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def delivery(world: World) -> Delivery:
    return Delivery(world)


def recipients(sent: list[Notification]) -> set[str]:
    return {n.to for n in sent}


def submit(world: World) -> str:
    return world.service.submit(
        world.acme_admin, SubmitCase(subject="VAT return", description="Please file it.")
    ).id


def test_a_new_case_alerts_every_member_of_staff_and_confirms_to_the_client(
    world: World, delivery: Delivery
) -> None:
    submit(world)
    sent = delivery.deliver()
    assert recipients(sent) == {"sam@example.com", "ada@example.com", "ann@example.com"}
    confirmation = next(n for n in sent if n.to == "ann@example.com")
    assert "We received your request" in confirmation.subject
    assert "https://portal.example.com/cases/" in confirmation.body


def test_a_clients_reply_on_an_assigned_case_reaches_only_its_assignee(
    world: World, delivery: Delivery
) -> None:
    case_id = submit(world)
    delivery.deliver()
    world.service.assign(world.admin, AssignCase(case_id=case_id, assignee_id="sam"))
    world.service.comment(world.acme_admin, AddComment(case_id=case_id, body="Any news?"))
    assert recipients(delivery.deliver()) == {"sam@example.com"}


def test_a_status_change_reaches_the_clients_contacts_but_not_another_organisation(
    world: World, delivery: Delivery
) -> None:
    case_id = submit(world)
    delivery.deliver()
    world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS)
    )
    sent = delivery.deliver()
    assert recipients(sent) == {"ann@example.com", "vic@example.com", "bill@example.com"}
    assert all("in progress" in n.subject for n in sent)


def test_an_internal_note_is_never_mailed_to_anyone(world: World, delivery: Delivery) -> None:
    case_id = submit(world)
    delivery.deliver()
    world.service.comment(
        world.staff,
        AddComment(case_id=case_id, body="Client is late again", visibility=Visibility.INTERNAL),
    )
    assert delivery.deliver() == []


def test_a_public_reply_from_the_firm_reaches_the_client_contacts_with_the_text(
    world: World, delivery: Delivery
) -> None:
    case_id = submit(world)
    delivery.deliver()
    world.service.comment(world.staff, AddComment(case_id=case_id, body="Filed today."))
    sent = delivery.deliver()
    assert recipients(sent) == {"ann@example.com", "vic@example.com", "bill@example.com"}
    assert all("> Filed today." in n.body for n in sent)


def test_a_person_who_turned_status_mails_off_gets_none_but_others_still_do(
    world: World, delivery: Delivery
) -> None:
    case_id = submit(world)
    delivery.deliver()
    NotificationPreferencesService(preferences=delivery.preferences).set(
        world.acme_viewer, {NotificationKind.CASE_STATUS_CHANGED: False}
    )
    world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.RESOLVED)
    )
    assert recipients(delivery.deliver()) == {"ann@example.com", "bill@example.com"}


def test_an_invoice_goes_to_billing_contacts_and_client_admins(
    world: World, delivery: Delivery
) -> None:
    event = InvoiceIssued(
        event_id="ev-inv",
        occurred_at=world.clock.now(),
        organisation_id="acme",
        actor_id="sam",
        invoice_id="inv-1",
        number="2026-0001",
        gross="540.00",
        currency="EUR",
        issue_date=date(2026, 3, 2),
        due_date=date(2026, 4, 1),
    )
    delivery.relay.handlers_for(event)[0](event)
    sent = delivery.notifier.sent
    assert recipients(sent) == {"ann@example.com", "bill@example.com"}
    assert "540.00 EUR" in sent[0].body


def test_security_mails_go_to_the_person_whatever_they_turned_off(
    world: World, delivery: Delivery
) -> None:
    at = world.clock.now()
    invitation = InvitationSent(
        event_id="ev-1",
        occurred_at=at,
        organisation_id="acme",
        actor_id="ada",
        user_id="vic",
        email="vic@example.com",
        name="Vic",
        link="https://portal.example.com/invitation/secret-token",
        expires_at=at + timedelta(days=7),
    )
    changed = PasswordChanged(
        event_id="ev-2",
        occurred_at=at,
        organisation_id="acme",
        actor_id="vic",
        user_id="vic",
        email="vic@example.com",
    )
    for event in (invitation, changed):
        for handler in delivery.relay.handlers_for(event):
            handler(event)
    sent = delivery.notifier.sent
    assert [n.kind for n in sent] == ["invitation", "password_changed"]
    assert "https://portal.example.com/invitation/secret-token" in sent[0].body


def test_security_mails_cannot_be_turned_off() -> None:
    service = NotificationPreferencesService(preferences=InMemoryNotificationPreferences())
    person = Principal(user_id="ann", organisation_id="acme", roles=frozenset())
    for kind in MANDATORY_KINDS:
        with pytest.raises(InvalidInput):
            service.set(person, {kind: False})


def test_a_system_actor_has_no_preferences() -> None:
    service = NotificationPreferencesService(preferences=InMemoryNotificationPreferences())
    with pytest.raises(PermissionDenied):
        service.get(Principal.system("worker"))


@given(choices=st.lists(st.tuples(st.sampled_from(OPTIONAL_KINDS), st.booleans())))
def test_the_last_choice_for_each_kind_wins(
    choices: list[tuple[NotificationKind, bool]],
) -> None:
    preferences = NotificationPreferences(user_id="ann")
    for kind, enabled in choices:
        preferences = preferences.with_choice(kind, enabled=enabled)
    last = dict(choices)
    for kind in NotificationKind:
        assert preferences.wants(kind) == last.get(kind, True)


def test_a_retried_delivery_never_mails_a_recipient_twice(world: World) -> None:
    class FailsOnce:
        def __init__(self) -> None:
            self.sent: list[Notification] = []
            self.failed = False

        def send(self, notification: Notification) -> None:
            if len(self.sent) == 1 and not self.failed:
                self.failed = True
                raise ConnectionError("SMTP server went away")
            self.sent.append(notification)

    outgoing = FailsOnce()
    notices = EmailNotices(
        uow=world.storage.unit_of_work,
        notifier=OnceOnlyNotifier(outgoing, uow=world.storage.unit_of_work, clock=world.clock),
        preferences=InMemoryNotificationPreferences(),
        site=SITE,
    )
    relay = OutboxRelay(
        uow=world.storage.unit_of_work,
        clock=world.clock,
        handlers=notices.handlers(),
        draw=lambda: 0.0,
    )
    submit(world)
    assert relay.run_once().failed == 1
    world.clock.advance(timedelta(hours=2))
    assert relay.run_once().delivered == 1
    keys = [n.dedupe_key for n in outgoing.sent]
    assert len(keys) == len(set(keys)) == 3


def test_a_clients_live_updates_never_carry_an_internal_note(world: World) -> None:
    publisher = InMemoryPublisher()
    LivePublishing(uow=world.storage.unit_of_work, publisher=publisher).subscribe(world.dispatcher)
    case_id = submit(world)
    world.service.comment(
        world.staff,
        AddComment(case_id=case_id, body="Internal: fee dispute", visibility=Visibility.INTERNAL),
    )
    world.service.change_status(
        world.staff, ChangeStatus(case_id=case_id, status=CaseStatus.IN_PROGRESS)
    )
    for_clients = [u for u in publisher.published if not u.staff_only]
    assert [u.data["kind"] for u in for_clients] == ["case.submitted", "case.status_changed"]
    assert for_clients[-1].data["status_label"] == "In progress"
    note = next(u for u in publisher.published if u.staff_only)
    assert note.data["text"] == "Internal note: Internal: fee dispute"


def test_an_assignment_is_for_staff_only(world: World) -> None:
    publisher = InMemoryPublisher()
    LivePublishing(uow=world.storage.unit_of_work, publisher=publisher).subscribe(world.dispatcher)
    case_id = submit(world)
    world.service.assign(world.admin, AssignCase(case_id=case_id, assignee_id="sam"))
    assert [u.staff_only for u in publisher.published] == [False, True]


def test_every_update_says_when_it_happened_in_utc(world: World) -> None:
    publisher = InMemoryPublisher()
    LivePublishing(uow=world.storage.unit_of_work, publisher=publisher).subscribe(world.dispatcher)
    submit(world)
    at = datetime.fromisoformat(publisher.published[0].data["at"])
    assert at.utcoffset() == UTC.utcoffset(None)


def test_a_payment_receipt_respects_the_recipients_choice_but_security_mails_do_not(
    world: World,
) -> None:
    outgoing = InMemoryNotifier()
    preferences = InMemoryNotificationPreferences()
    preferences.save(
        NotificationPreferences(
            user_id="bill", turned_off=frozenset({NotificationKind.PAYMENT_RECEIVED})
        )
    )
    notifier = PreferenceRespectingNotifier(
        outgoing, uow=world.storage.unit_of_work, preferences=preferences
    )
    for kind, to in [
        ("payment_receipt", "bill@example.com"),
        ("payment_receipt", "ann@example.com"),
        ("password_changed", "bill@example.com"),
        ("payment_receipt", "someone@elsewhere.example"),
    ]:
        notifier.send(
            Notification(to=to, subject="s", body="b", kind=kind, dedupe_key=f"{kind}:{to}")
        )
    assert [(n.kind, n.to) for n in outgoing.sent] == [
        ("payment_receipt", "ann@example.com"),
        ("password_changed", "bill@example.com"),
        ("payment_receipt", "someone@elsewhere.example"),
    ]


def test_a_case_imported_from_salesforce_alerts_nobody(world: World, delivery: Delivery) -> None:
    case, event = Case.submit(
        case_id="imported-1",
        organisation_id="acme",
        reference="P-IMPORT",
        subject="Made in Salesforce",
        description="",
        priority=Priority.NORMAL,
        submitted_by="system:salesforce",
        event_id="ev-import",
        at=world.clock.now(),
    )
    with world.storage.unit_of_work() as uow:
        uow.cases.add(case)
        uow.commit()
    for handler in delivery.relay.handlers_for(event):
        handler(event)
    assert delivery.notifier.sent == []


def test_a_client_closing_their_request_tells_the_firm_and_their_colleagues(
    world: World, delivery: Delivery
) -> None:
    case_id = submit(world)
    world.service.assign(world.admin, AssignCase(case_id=case_id, assignee_id="sam"))
    delivery.deliver()
    world.service.change_status(
        world.acme_admin, ChangeStatus(case_id=case_id, status=CaseStatus.CLOSED)
    )
    assert recipients(delivery.deliver()) == {
        "sam@example.com",
        "vic@example.com",
        "bill@example.com",
    }


def test_staff_submitting_for_a_client_are_not_alerted_about_their_own_request(
    world: World, delivery: Delivery
) -> None:
    world.service.submit(
        world.staff,
        SubmitCase(subject="Payroll", description="Phoned in.", organisation_id="acme"),
    )
    assert recipients(delivery.deliver()) == {"ada@example.com"}
