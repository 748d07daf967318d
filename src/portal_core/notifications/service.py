"""E-mails from the outbox: one handler per event kind, registered with the OutboxRelay.

Each recipient's e-mail has the dedupe key `<kind>:<event id>:<user id>`, so a message the
relay delivers twice (at least once) is mailed once by a notifier that remembers its keys, and
a retry after a failure part-way through a recipient list sends only the ones not yet sent.
People's preferences are read at delivery; security mails ignore them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from portal_core.billing.events import InvoiceIssued
from portal_core.cases.model import (
    CaseStatus,
    CaseStatusChanged,
    CaseSubmitted,
    CaseSynced,
    CommentAdded,
    Visibility,
)
from portal_core.delivery import DeliveryHandler
from portal_core.events import DomainEvent
from portal_core.identity.events import (
    InvitationSent,
    PasswordChanged,
    PasswordResetRequested,
    SecondFactorDisabled,
    SecondFactorEnabled,
)
from portal_core.notifications import messages, rules
from portal_core.notifications.messages import Message, Site
from portal_core.notifications.preferences import (
    NotificationKind,
    NotificationPreferenceRepository,
    kind_named,
)
from portal_core.organisations.model import Role, User
from portal_core.ports import Clock, Notification, Notifier, UnitOfWorkFactory

log = logging.getLogger(__name__)

SYSTEM_PREFIX = "system:"


class EmailNotices:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        notifier: Notifier,
        preferences: NotificationPreferenceRepository,
        site: Site,
    ) -> None:
        self._uow = uow
        self._notifier = notifier
        self._preferences = preferences
        self._site = site

    def handlers(self) -> Mapping[type[DomainEvent], DeliveryHandler]:
        """For `OutboxRelay(handlers=...)`, merged with the other handlers of the same events."""
        return {
            CaseSubmitted: self.case_submitted,
            CaseStatusChanged: self.status_changed,
            CaseSynced: self.case_synced,
            CommentAdded: self.comment_added,
            InvoiceIssued: self.invoice_issued,
            InvitationSent: self.invitation_sent,
            PasswordResetRequested: self.password_reset_requested,
            PasswordChanged: self.password_changed,
            SecondFactorEnabled: self.second_factor_changed,
            SecondFactorDisabled: self.second_factor_changed,
        }

    # cases ------------------------------------------------------------------------------------

    def case_submitted(self, event: CaseSubmitted) -> None:
        if event.submitted_by.startswith(SYSTEM_PREFIX):
            # Imported from the case system (Salesforce): staff made it there themselves, and
            # a reconciliation may import thousands; nobody is told of each.
            return
        with self._uow() as uow:
            case = uow.cases.get(event.case_id)
            if case is None:
                return
            organisation = uow.organisations.get(case.organisation_id)
            people = list(uow.users.for_organisation(case.organisation_id))
            staff = _staff(uow.users.with_role(Role.STAFF), uow.users.with_role(Role.ADMIN))
        name = organisation.name if organisation else "A client"
        kind = NotificationKind.CASE_CREATED
        self._send(
            event,
            kind,
            _without(rules.staff_for_case(staff, assignee_id=case.assignee_id), event.actor_id),
            messages.case_created_for_staff(self._site, case, name),
        )
        self._send(
            event,
            kind,
            rules.submitter(
                people, organisation_id=case.organisation_id, user_id=event.submitted_by
            ),
            messages.case_created_for_client(self._site, case),
        )

    def status_changed(self, event: CaseStatusChanged) -> None:
        self._status(event, event.new_status)

    def case_synced(self, event: CaseSynced) -> None:
        if event.status != event.old_status:  # a new subject alone is not worth an e-mail
            self._status(event, event.status)

    def _status(self, event: CaseStatusChanged | CaseSynced, status: CaseStatus) -> None:
        with self._uow() as uow:
            case = uow.cases.get(event.case_id)
            if case is None:
                return
            author = uow.users.get(event.actor_id)
            people = list(uow.users.for_organisation(case.organisation_id))
            staff = _staff(uow.users.with_role(Role.STAFF), uow.users.with_role(Role.ADMIN))
        recipients = rules.client_contacts(
            people, organisation_id=case.organisation_id, except_id=event.actor_id
        )
        if rules.is_client(author):  # a client closed or reopened it: the firm must know too
            recipients += rules.staff_for_case(staff, assignee_id=case.assignee_id)
        self._send(
            event,
            NotificationKind.CASE_STATUS_CHANGED,
            recipients,
            messages.status_changed(self._site, case, status),
        )

    def comment_added(self, event: CommentAdded) -> None:
        if event.visibility is not Visibility.PUBLIC:
            return  # internal notes stay in the portal, for staff only
        with self._uow() as uow:
            case = uow.cases.get(event.case_id)
            if case is None:
                return
            author = uow.users.get(event.actor_id)
            people = list(uow.users.for_organisation(case.organisation_id))
            staff = _staff(uow.users.with_role(Role.STAFF), uow.users.with_role(Role.ADMIN))
        from_client = rules.is_client(author)
        if from_client:
            recipients = rules.staff_for_case(staff, assignee_id=case.assignee_id)
        else:
            recipients = rules.client_contacts(
                people, organisation_id=case.organisation_id, except_id=event.actor_id
            )
        self._send(
            event,
            NotificationKind.CASE_REPLY,
            recipients,
            messages.public_reply(self._site, case, event.body, from_client=from_client),
        )

    # billing ----------------------------------------------------------------------------------

    def invoice_issued(self, event: InvoiceIssued) -> None:
        if event.organisation_id is None:
            return
        with self._uow() as uow:
            people = list(uow.users.for_organisation(event.organisation_id))
        self._send(
            event,
            NotificationKind.INVOICE_ISSUED,
            rules.billing_recipients(people, organisation_id=event.organisation_id),
            messages.invoice_issued(
                self._site,
                invoice_id=event.invoice_id,
                number=event.number,
                gross=event.gross,
                currency=event.currency,
                due=event.due_date.isoformat(),
            ),
        )

    # sign-in ----------------------------------------------------------------------------------

    def invitation_sent(self, event: InvitationSent) -> None:
        message = messages.invitation(
            self._site, name=event.name, link=event.link, expires_at=event.expires_at
        )
        self._send_to_address(
            event, NotificationKind.INVITATION, event.user_id, event.email, message
        )

    def password_reset_requested(self, event: PasswordResetRequested) -> None:
        message = messages.password_reset(
            self._site, name=event.name, link=event.link, expires_at=event.expires_at
        )
        self._send_to_address(
            event, NotificationKind.PASSWORD_RESET, event.user_id, event.email, message
        )

    def password_changed(self, event: PasswordChanged) -> None:
        message = messages.password_changed(self._site)
        self._send_to_address(
            event, NotificationKind.PASSWORD_CHANGED, event.user_id, event.email, message
        )

    def second_factor_changed(self, event: SecondFactorEnabled | SecondFactorDisabled) -> None:
        message = messages.second_factor_changed(
            self._site, enabled=isinstance(event, SecondFactorEnabled)
        )
        self._send_to_address(
            event, NotificationKind.SECOND_FACTOR_CHANGED, event.user_id, event.email, message
        )

    # sending ----------------------------------------------------------------------------------

    def _send(
        self,
        event: DomainEvent,
        kind: NotificationKind,
        recipients: Iterable[User],
        message: Message,
    ) -> None:
        for user in recipients:
            if not self._preferences.get(user.id).wants(kind):
                continue
            self._send_to_address(event, kind, user.id, user.email, message)

    def _send_to_address(
        self, event: DomainEvent, kind: NotificationKind, user_id: str, email: str, message: Message
    ) -> None:
        self._notifier.send(
            Notification(
                to=email,
                subject=message.subject,
                body=message.body,
                kind=kind.value,
                dedupe_key=f"{kind.value}:{event.event_id}:{user_id}",
            )
        )


def _staff(*groups: Sequence[User]) -> list[User]:
    return [user for group in groups for user in group]


def _without(users: Iterable[User], user_id: str) -> list[User]:
    """Nobody is e-mailed about what they did themselves."""
    return [user for user in users if user.id != user_id]


class PreferenceRespectingNotifier:
    """A notifier that drops what the recipient turned off: for senders outside this package
    (payments' receipts and reminders) that address people by e-mail and kind."""

    def __init__(
        self,
        notifier: Notifier,
        *,
        uow: UnitOfWorkFactory,
        preferences: NotificationPreferenceRepository,
    ) -> None:
        self._notifier = notifier
        self._uow = uow
        self._preferences = preferences

    def send(self, notification: Notification) -> None:
        kind = kind_named(notification.kind)
        if kind is not None and not kind.mandatory:
            with self._uow(read_only=True) as uow:
                user = uow.users.by_email(notification.to)
            if user is not None and not self._preferences.get(user.id).wants(kind):
                log.info("%s e-mail %s not sent: turned off", kind.value, notification.dedupe_key)
                return
        self._notifier.send(notification)


NOTIFICATION_SOURCE = "notification"
"""The processed-events source under which sent e-mails' dedupe keys are remembered."""


class OnceOnlyNotifier:
    """Sends each dedupe key once, remembered in the portal's storage.

    The key is recorded and the e-mail sent inside one transaction: a failed send rolls the
    record back (the outbox retries it); two workers sending the same key at once meet on the
    record's unique key, and the second finds it taken once the first has committed.
    """

    def __init__(self, notifier: Notifier, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._notifier = notifier
        self._uow = uow
        self._clock = clock

    def send(self, notification: Notification) -> None:
        with self._uow() as uow:
            first = uow.processed_events.record(
                NOTIFICATION_SOURCE, notification.dedupe_key, at=self._clock.now()
            )
            if not first:
                log.info("e-mail %s was sent before; not again", notification.dedupe_key)
                return
            self._notifier.send(notification)
            uow.commit()
