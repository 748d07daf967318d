"""Writes from the portal to the case system of record, carried by the outbox relay.

The client's confirmation never waits on the case system: submitting a case stores it with its
portal reference and an outbox row; these handlers run later, retried with back-off while the
case system is down or over its limits, and link the case to the record it created (giving it
the case system's number) once it is accepted. Until then `Case.external_id` is None: the case
is pending, and shown by its portal reference.

- CaseSubmitted → create the case there, idempotent on the portal's case id, then link it.
- CaseStatusChanged by a person → update the status there (postponed until the case is linked).
- A public CommentAdded → a public comment there. Internal notes are never sent: they stay in
  the portal, where the access rules that keep them from clients are enforced.
- CaseDetailsChanged by a person → subject, description and priority there, when supported.
- AttachmentAdded → a file reference there (a link to the portal's download, never the bytes),
  when the case system keeps file references.
Changes that came from the case system itself (actor `system:salesforce`) are never written back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from portal_core.cases.model import (
    AttachmentAdded,
    Case,
    CaseDetailsChanged,
    CaseStatusChanged,
    CaseSubmitted,
    CommentAdded,
    Priority,
    Visibility,
)
from portal_core.delivery import DeliveryHandler, RetryLater
from portal_core.dispatch import EventDispatcher, record_change
from portal_core.events import DomainEvent
from portal_core.ports import CaseSystem, Clock, IdGenerator, UnitOfWorkFactory
from portal_core.sync.changes import SYNC_ACTOR

log = logging.getLogger(__name__)

FileLink = Callable[[str, str], str]
"""(case id, attachment id) → the portal address where staff open the file."""


class CaseFileReferences(Protocol):
    """A case system that keeps references to files held elsewhere (Salesforce: a configurable
    custom object or field)."""

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
        """Record a reference to the file on case `external_id`; idempotent on `file_id`."""
        ...


class CaseDetailsUpdates(Protocol):
    """A case system that takes changes to a case's subject, description and priority."""

    def update_details(
        self, external_id: str, *, subject: str, description: str, priority: Priority
    ) -> None: ...


class CaseSystemWriter:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        case_system: CaseSystem,
        clock: Clock,
        ids: IdGenerator,
        dispatcher: EventDispatcher,
        file_references: CaseFileReferences | None = None,
        file_link: FileLink | None = None,
        details: CaseDetailsUpdates | None = None,
    ) -> None:
        if (file_references is None) != (file_link is None):
            raise ValueError("File references need both the case system's side and a link.")
        self._uow = uow
        self._case_system = case_system
        self._file_references = file_references
        self._file_link = file_link
        self._details = details
        self._clock = clock
        self._ids = ids
        self._dispatcher = dispatcher

    def handlers(self) -> Mapping[type[DomainEvent], DeliveryHandler]:
        """For `OutboxRelay(handlers=...)`, merged with the other handlers of the same events."""
        handlers: dict[type[DomainEvent], DeliveryHandler] = {
            CaseSubmitted: self.create_case,
            CaseStatusChanged: self.push_status,
            CommentAdded: self.push_comment,
        }
        if self._file_references is not None:
            handlers[AttachmentAdded] = self.push_file_reference
        if self._details is not None:
            handlers[CaseDetailsChanged] = self.push_details
        return handlers

    def create_case(self, event: CaseSubmitted) -> None:
        with self._uow(read_only=True) as uow:
            case = uow.cases.get(event.case_id)
            if case is None:
                log.warning("case %s is gone; nothing to create", event.case_id)
                return
            if case.external_id is not None:  # imported from, or already linked to, the system
                return
            organisation = uow.organisations.get(case.organisation_id)
            account_id = organisation.external_account_id if organisation else None
        # The call runs outside any transaction: the case system may be slow or down.
        created = self._case_system.create_case(case, account_id=account_id)
        self._link(case.id, created.external_id, created.number)

    def push_status(self, event: CaseStatusChanged) -> None:
        if _from_case_system(event.actor_id):
            return
        external_id = self._external_id(event.case_id)
        if external_id is None:
            return
        self._case_system.update_status(external_id, event.new_status)

    def push_comment(self, event: CommentAdded) -> None:
        if event.visibility is not Visibility.PUBLIC or _from_case_system(event.actor_id):
            return
        external_id = self._external_id(event.case_id)
        if external_id is None:
            return
        self._case_system.add_public_comment(external_id, event.body)

    def push_details(self, event: CaseDetailsChanged) -> None:
        if self._details is None or _from_case_system(event.actor_id):
            return
        external_id = self._external_id(event.case_id)
        if external_id is None:
            return
        self._details.update_details(
            external_id,
            subject=event.subject,
            description=event.description,
            priority=event.priority,
        )

    def push_file_reference(self, event: AttachmentAdded) -> None:
        if self._file_references is None or self._file_link is None:
            return
        external_id = self._external_id(event.case_id)
        if external_id is None:
            return
        self._file_references.attach_file_reference(
            external_id,
            file_id=event.attachment_id,
            name=event.display_name,
            url=self._file_link(event.case_id, event.attachment_id),
            size=event.size,
            content_type=event.content_type,
        )

    def _external_id(self, case_id: str) -> str | None:
        """The case's id in the case system; RetryLater while its creation is still pending."""
        with self._uow(read_only=True) as uow:
            case = uow.cases.get(case_id)
        if case is None:
            log.warning("case %s is gone; nothing to write back", case_id)
            return None
        if case.external_id is None:
            raise RetryLater(f"case {case.reference} is not yet registered in the case system")
        return case.external_id

    def _link(self, case_id: str, external_id: str, number: str) -> None:
        with self._uow() as uow:
            case = uow.cases.get(case_id)
            if case is None or case.external_id == external_id:
                return  # linked meanwhile, e.g. by the creation's echo from the case system
            if case.external_id is not None:
                log.error(
                    "case %s is linked to %s but the case system created %s",
                    case.reference,
                    case.external_id,
                    external_id,
                )
                return
            linked, event = case.link(
                external_id=external_id,
                external_number=number,
                actor_id=SYNC_ACTOR,
                event_id=self._ids.new_id(),
                at=self._clock.now(),
            )
            uow.history.append(event)
            record_change(
                uow,
                event,
                ids=self._ids,
                subject_type="case",
                subject_id=case.id,
                details={"external_number": number},
            )
            uow.cases.update(linked, expected_version=case.version)
            uow.commit()
        self._dispatcher.dispatch([event])


def _from_case_system(actor_id: str) -> bool:
    return actor_id == SYNC_ACTOR


def is_pending(case: Case) -> bool:
    """Not yet accepted by the case system: shown by its portal reference, marked pending."""
    return case.external_id is None
